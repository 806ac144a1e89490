/* The elementwise work of one step of RelGAN's relational memory core (one attention block, a 2-layer MLP),
   in two passes each way; compiled together with native_kernels.c (whose helpers it uses) and driven by
   textgan/kernels/rmc_step.py. The matrix products stay in torch. Shapes per sentence b: N = S + 1 rows (S memory slots and
   the input row), F = H (2K + D) qkv features, M = H D memory features. All arithmetic in float32; AT is the
   type of the products' outputs (float or bfloat16 bits). Rows [n0, n1) of the batch.

   attend:  X = [qkv_mem; qkv_in] (N, F); Q = LN_joint(X) gq + bq; per head h: P = softmax(scale q k^T) over
            keys, A = P v; Z = [memory; row_in] + A; rows1 = LN_joint(Z) g1 + b1.
   update:  Z2 = rows1 + hidden; att = LN_joint(Z2)[:S] g2 + b2;
            memory' = sigmoid(gm_i + gin_i + ib) tanh(att) + sigmoid(gm_f + gin_f + fb) memory.
   LN_joint normalises over all N rows and features of a sentence together (biased variance, eps). */

static inline float tanh_f32(float x) {
    const float e = exp_f32(-2.0f * (x < 0.0f ? -x : x));  /* in (0, 1]: no overflow */
    const float t = (1.0f - e) / (1.0f + e);
    return x < 0.0f ? -t : t;
}

/* Reductions in LANES-wide vector accumulators (a scalar float sum would run serially: strict FP order),
   summed across lanes by native_kernels.c's hsum. */

static inline float dot_f32(const float* a, const float* b, int64_t n) {
    vf acc0 = {0}, acc1 = {0};
    int64_t i = 0;
    for (; i + 2 * LANES <= n; i += 2 * LANES) {
        acc0 += load_vf(a + i) * load_vf(b + i);
        acc1 += load_vf(a + i + LANES) * load_vf(b + i + LANES);
    }
    for (; i + LANES <= n; i += LANES) acc0 += load_vf(a + i) * load_vf(b + i);
    float s = hsum(acc0 + acc1);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

/* mean and 1 / sqrt(var + eps) of n values (two passes) */
static inline void joint_stats(const float* restrict x, int64_t n, float eps, float* mean, float* rstd) {
    vf acc = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) acc += load_vf(x + i);
    float sum = hsum(acc);
    for (; i < n; ++i) sum += x[i];
    const float m = sum / (float)n;
    vf sq = {0};
    for (i = 0; i + LANES <= n; i += LANES) { const vf d = load_vf(x + i) - m; sq += d * d; }
    float squares = hsum(sq);
    for (; i < n; ++i) squares += (x[i] - m) * (x[i] - m);
    *mean = m;
    *rstd = 1.0f / sqrtf(squares / (float)n + eps);
}

/* LN backward over rows x width values with per-feature gain g: dx = rstd (dy g - mean(dy g) - xhat mean(dy g
   xhat)); adds dg += dy xhat and db += dy (this sentence's own rows of partial sums). dx may alias dy. */
static inline void joint_norm_backward(const float* dy, const float* restrict xhat, const float* restrict g,
                                       int64_t rows, int64_t width, float rstd, float* dx, float* restrict dg,
                                       float* restrict db) {
    vf a1 = {0}, a2 = {0};
    float s1 = 0.0f, s2 = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
        const float* dyr = dy + r * width;
        const float* xr = xhat + r * width;
        int64_t f = 0;
        for (; f + LANES <= width; f += LANES) {
            const vf d = load_vf(dyr + f), x = load_vf(xr + f), dxh = d * load_vf(g + f);
            a1 += dxh;
            a2 += dxh * x;
        }
        for (; f < width; ++f) { const float dxh = dyr[f] * g[f]; s1 += dxh; s2 += dxh * xr[f]; }
        for (f = 0; f < width; ++f) { dg[f] += dyr[f] * xr[f]; db[f] += dyr[f]; }
    }
    const float n = (float)(rows * width);
    const float m1 = (s1 + hsum(a1)) / n, m2 = (s2 + hsum(a2)) / n;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t f = 0; f < width; ++f) {
            const int64_t i = r * width + f;
            dx[i] = rstd * (dy[i] * g[f] - m1 - xhat[i] * m2);
        }
}

#define RMC_CELL_KERNELS(SUFFIX, AT, LOAD, STORE) \
void rmc_attend_forward_##SUFFIX(const AT* restrict qkv_mem, int64_t qkv_mem_stride, const AT* restrict qkv_in, \
        int64_t qkv_in_stride, const float* restrict memory, const AT* restrict row_in, int64_t row_stride, \
        const float* restrict gq, const float* restrict bq, const float* restrict g1, const float* restrict b1, \
        int64_t n0, int64_t n1, int64_t S, int64_t H, int64_t K, int64_t D, float scale, float eps, \
        float* restrict xhat, float* restrict probs, float* restrict zhat, float* restrict rstd, \
        float* restrict rows1, float* restrict scratch) { \
    const int64_t N = S + 1, E = 2 * K + D, F = H * E, M = H * D; \
    float* q = scratch; /* (N, F): the normalised, scaled and shifted qkv rows of one sentence */ \
    for (int64_t b = n0; b < n1; ++b) { \
        float* x = xhat + b * N * F; \
        for (int64_t r = 0; r < S; ++r) \
            for (int64_t f = 0; f < F; ++f) x[r * F + f] = LOAD(qkv_mem, b * qkv_mem_stride + r * F + f); \
        for (int64_t f = 0; f < F; ++f) x[S * F + f] = LOAD(qkv_in, b * qkv_in_stride + f); \
        float mean, rq; \
        joint_stats(x, N * F, eps, &mean, &rq); \
        for (int64_t r = 0; r < N; ++r) \
            for (int64_t f = 0; f < F; ++f) { \
                const float v = (x[r * F + f] - mean) * rq; \
                x[r * F + f] = v; \
                q[r * F + f] = v * gq[f] + bq[f]; \
            } \
        float* z = zhat + b * N * M; \
        for (int64_t r = 0; r < S; ++r) \
            for (int64_t m = 0; m < M; ++m) z[r * M + m] = memory[(b * S + r) * M + m]; \
        for (int64_t m = 0; m < M; ++m) z[S * M + m] = LOAD(row_in, b * row_stride + m); \
        for (int64_t h = 0; h < H; ++h) { \
            float* p = probs + ((b * H + h) * N) * N; \
            for (int64_t i = 0; i < N; ++i) { \
                const float* qi = q + i * F + h * E; \
                float top = -FLT_MAX; \
                for (int64_t j = 0; j < N; ++j) { \
                    const float* kj = q + j * F + h * E + K; \
                    p[i * N + j] = dot_f32(qi, kj, K) * scale; \
                    top = p[i * N + j] > top ? p[i * N + j] : top; \
                } \
                float total = 0.0f; \
                for (int64_t j = 0; j < N; ++j) { p[i * N + j] = exp_f32(p[i * N + j] - top); total += p[i * N + j]; } \
                for (int64_t j = 0; j < N; ++j) p[i * N + j] /= total; \
                float* zi = z + i * M + h * D; \
                for (int64_t j = 0; j < N; ++j) { \
                    const float pij = p[i * N + j]; \
                    const float* vj = q + j * F + h * E + 2 * K; \
                    for (int64_t d = 0; d < D; ++d) zi[d] += pij * vj[d]; \
                } \
            } \
        } \
        float r1; \
        joint_stats(z, N * M, eps, &mean, &r1); \
        for (int64_t r = 0; r < N; ++r) \
            for (int64_t m = 0; m < M; ++m) { \
                const float v = (z[r * M + m] - mean) * r1; \
                z[r * M + m] = v; \
                rows1[(b * N + r) * M + m] = v * g1[m] + b1[m]; \
            } \
        rstd[2 * b] = rq; \
        rstd[2 * b + 1] = r1; \
    } \
} \
\
/* d_rows1 (B, N, M) -> d_qkv (B, N, F, AT) and d_rows (B, N, M); each sentence's gradients of gq, bq (F) and \
   g1, b1 (M) are added into its rows of dgq, dbq (B, F) and dg1, db1 (B, M), so sums do not depend on threads. */ \
void rmc_attend_backward_##SUFFIX(const float* restrict d_rows1, const float* restrict xhat, \
        const float* restrict probs, const float* restrict zhat, const float* restrict rstd, \
        const float* restrict gq, const float* restrict bq, const float* restrict g1, \
        int64_t n0, int64_t n1, int64_t S, int64_t H, int64_t K, int64_t D, float scale, \
        AT* restrict d_qkv, float* restrict d_rows, float* restrict dgq, float* restrict dbq, \
        float* restrict dg1, float* restrict db1, float* restrict scratch) { \
    const int64_t N = S + 1, E = 2 * K + D, F = H * E, M = H * D; \
    float* q = scratch;          /* (N, F) */ \
    float* dq = scratch + N * F; /* (N, F) */ \
    for (int64_t b = n0; b < n1; ++b) { \
        float* dz = d_rows + b * N * M; /* dZ: the residual's gradient and the attention output's */ \
        joint_norm_backward(d_rows1 + b * N * M, zhat + b * N * M, g1, N, M, rstd[2 * b + 1], dz, dg1 + b * M, \
                            db1 + b * M); \
        const float* x = xhat + b * N * F; \
        for (int64_t r = 0; r < N; ++r) \
            for (int64_t f = 0; f < F; ++f) { q[r * F + f] = x[r * F + f] * gq[f] + bq[f]; dq[r * F + f] = 0.0f; } \
        for (int64_t h = 0; h < H; ++h) { \
            const float* p = probs + ((b * H + h) * N) * N; \
            for (int64_t i = 0; i < N; ++i) { \
                const float* da = dz + i * M + h * D; \
                float dp[N]; \
                float weighted = 0.0f; \
                for (int64_t j = 0; j < N; ++j) { \
                    const float* vj = q + j * F + h * E + 2 * K; \
                    float* dvj = dq + j * F + h * E + 2 * K; \
                    const float pij = p[i * N + j]; \
                    for (int64_t d = 0; d < D; ++d) dvj[d] += pij * da[d]; \
                    dp[j] = dot_f32(da, vj, D); \
                    weighted += pij * dp[j]; \
                } \
                const float* qi = q + i * F + h * E; \
                float* dqi = dq + i * F + h * E; \
                for (int64_t j = 0; j < N; ++j) { \
                    const float ds = p[i * N + j] * (dp[j] - weighted) * scale; \
                    const float* kj = q + j * F + h * E + K; \
                    float* dkj = dq + j * F + h * E + K; \
                    for (int64_t k = 0; k < K; ++k) { dqi[k] += ds * kj[k]; dkj[k] += ds * qi[k]; } \
                } \
            } \
        } \
        joint_norm_backward(dq, x, gq, N, F, rstd[2 * b], dq, dgq + b * F, dbq + b * F); \
        for (int64_t i = 0; i < N * F; ++i) STORE(d_qkv, b * N * F + i, dq[i]); \
    } \
} \
\
void rmc_update_forward_##SUFFIX(const float* restrict rows1, const AT* restrict hidden, \
        const float* restrict g2, const float* restrict b2, const AT* restrict gm, const AT* restrict gin, \
        int64_t gin_stride, const float* restrict memory, float ib, float fb, int64_t n0, int64_t n1, int64_t S, \
        int64_t M, float eps, float* restrict z2hat, float* restrict rstd2, float* restrict new_memory) { \
    const int64_t N = S + 1; \
    for (int64_t b = n0; b < n1; ++b) { \
        float* z = z2hat + b * N * M; \
        for (int64_t i = 0; i < N * M; ++i) z[i] = rows1[b * N * M + i] + LOAD(hidden, b * N * M + i); \
        float mean, r2; \
        joint_stats(z, N * M, eps, &mean, &r2); \
        for (int64_t i = 0; i < N * M; ++i) z[i] = (z[i] - mean) * r2; \
        rstd2[b] = r2; \
        for (int64_t s = 0; s < S; ++s) \
            for (int64_t m = 0; m < M; ++m) { \
                const float att = tanh_f32(z[s * M + m] * g2[m] + b2[m]); \
                const float gi = LOAD(gm, (b * S + s) * 2 * M + m) + LOAD(gin, b * gin_stride + m) + ib; \
                const float gf = LOAD(gm, (b * S + s) * 2 * M + M + m) + LOAD(gin, b * gin_stride + M + m) + fb; \
                const int64_t o = (b * S + s) * M + m; \
                new_memory[o] = sigmoid_f32(gi) * att + sigmoid_f32(gf) * memory[o]; \
            } \
    } \
} \
\
/* d_new (B, S, M) -> d_gates (B, S, 2M, AT), d_memory (B, S, M) (the direct path f * d_new), d_z2 (B, N, M) \
   (the gradient of rows1 and of hidden; also as AT in d_hidden unless NULL); per-sentence dg2, db2 (B, M). */ \
void rmc_update_backward_##SUFFIX(const float* restrict d_new, const float* restrict z2hat, \
        const float* restrict rstd2, const float* restrict g2, const float* restrict b2, const AT* restrict gm, \
        const AT* restrict gin, int64_t gin_stride, const float* restrict memory, float ib, float fb, int64_t n0, \
        int64_t n1, int64_t S, int64_t M, AT* restrict d_gates, float* restrict d_memory, float* restrict d_z2, \
        AT* restrict d_hidden, float* restrict dg2, float* restrict db2) { \
    const int64_t N = S + 1; \
    for (int64_t b = n0; b < n1; ++b) { \
        float* dz = d_z2 + b * N * M; /* first d rows2 (zero on the input row), then dZ2 in place */ \
        for (int64_t s = 0; s < S; ++s) \
            for (int64_t m = 0; m < M; ++m) { \
                const int64_t o = (b * S + s) * M + m; \
                const float att = tanh_f32(z2hat[b * N * M + s * M + m] * g2[m] + b2[m]); \
                const float i = sigmoid_f32(LOAD(gm, (b * S + s) * 2 * M + m) + LOAD(gin, b * gin_stride + m) + ib); \
                const float f = sigmoid_f32(LOAD(gm, (b * S + s) * 2 * M + M + m) + LOAD(gin, b * gin_stride + M + m) + fb); \
                const float dn = d_new[o]; \
                STORE(d_gates, (b * S + s) * 2 * M + m, dn * att * i * (1.0f - i)); \
                STORE(d_gates, (b * S + s) * 2 * M + M + m, dn * memory[o] * f * (1.0f - f)); \
                d_memory[o] = dn * f; \
                dz[s * M + m] = dn * i * (1.0f - att * att); \
            } \
        for (int64_t m = 0; m < M; ++m) dz[S * M + m] = 0.0f; \
        joint_norm_backward(dz, z2hat + b * N * M, g2, N, M, rstd2[b], dz, dg2 + b * M, db2 + b * M); \
        if (d_hidden) for (int64_t i = 0; i < N * M; ++i) STORE(d_hidden, b * N * M + i, dz[i]); \
    } \
}

RMC_CELL_KERNELS(f32, float, from_f32, to_f32)
RMC_CELL_KERNELS(bf16, uint16_t, from_bf16, to_bf16)
