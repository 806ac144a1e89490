/* Native CPU kernels of textgan's CNN discriminators, the generators' token log-likelihood and RelGAN's
   sampling step, loaded with ctypes by textgan/kernels/build.py (which holds the Python signatures of the
   functions below). Plain C11 with GCC/Clang vector extensions, no torch headers. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <float.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
#define LANES 16
#define NVEC 4
#define BLOCK (LANES * NVEC)

static inline vf load_vf(const float* p) { vf v; memcpy(&v, p, sizeof v); return v; }

/* bfloat16 values are the upper halves of float32s: read exactly, written rounded to nearest even */
static inline float from_f32(const float* p, int64_t i) { return p[i]; }
static inline float from_bf16(const uint16_t* p, int64_t i) {
    const uint32_t u = (uint32_t)p[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline void to_f32(float* p, int64_t i, float v) { p[i] = v; }
static inline void to_bf16(uint16_t* p, int64_t i, float v) {  /* round to nearest even */
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    p[i] = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
typedef uint32_t vu __attribute__((vector_size(64)));
typedef uint16_t vh __attribute__((vector_size(LANES * 2)));
static inline vh vf_to_bf16(vf v) {  /* to_bf16 on 16 lanes */
    const vu u = (vu)v;
    return __builtin_convertvector((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16, vh);
}

/* ------------------------------------------------------------------ convolution + max over time */
/* The kernels below touch a slice of `ld`-strided rows (one window size's channels): the hardware prefetchers
   miss such streams, so each row asks for the slices PREFETCH_ROWS rows ahead (cache-cold at oracle size, 4096
   rows, 2 threads: backward 7.7 -> 3.0 ms, forward 3.9 -> 2.9 ms). */
#define PREFETCH_ROWS 8
static inline void prefetch_slice(const void* p, int64_t bytes) {
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch((const char*)p + b, 0);
}
static inline void prefetch_slice_for_write(void* p, int64_t bytes) {
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch((char*)p + b, 1);
}
/* the backward pass's inputs of row n: its idx and gradient slices (C values, gradient float32 or bf16) */
static inline void prefetch_backward_row(const int16_t* idx, const void* g, int g_bf16, int64_t n, int64_t ld,
                                         int64_t C) {
    prefetch_slice(idx + n * ld, 2 * C);
    prefetch_slice((const char*)g + n * ld * (g_bf16 ? 2 : 4), (g_bf16 ? 2 : 4) * C);
}
/* out[n, c] = relu(b[c] + max_t sum_{l < L} w[l, c] x[n, t * step + l]) over t < steps,
   idx[n, c] = the first argmax t where out[n, c] > 0, -1 where the ReLU is off (the backward pass then reads
   16 bits per feature, not the output as well). x rows are `row` floats apart; w is (L, Cp) with Cp a multiple
   of BLOCK; out and idx rows are `ld` apart. steps <= 32767. */
typedef int16_t vs __attribute__((vector_size(LANES * 2)));
static inline __attribute__((always_inline)) void conv_max_rows(
    const float* restrict x, int64_t n0, int64_t n1, int64_t row, int64_t step, int64_t steps,
    const float* restrict w, const int64_t L, int64_t C, int64_t Cp, const float* restrict bias,
    void* restrict out, const int out_bf16, int16_t* restrict idx, int64_t ld) {
    for (int64_t n = n0; n < n1; ++n) {
        const float* xr = x + n * row;
        if (n + PREFETCH_ROWS < n1) {
            const int64_t size = out_bf16 ? 2 : 4;
            prefetch_slice_for_write((char*)out + (n + PREFETCH_ROWS) * ld * size, size * C);
            prefetch_slice_for_write(idx + (n + PREFETCH_ROWS) * ld, 2 * C);
        }
        for (int64_t cb = 0; cb < Cp; cb += BLOCK) {
            vf best[NVEC];
            vi arg[NVEC];
            for (int j = 0; j < NVEC; ++j) { best[j] = (vf){} - FLT_MAX; arg[j] = (vi){}; }
            for (int64_t t = 0; t < steps; ++t) {
                vf s[NVEC];
                const float* xt = xr + t * step;
                for (int j = 0; j < NVEC; ++j) s[j] = (vf){};
                for (int64_t l = 0; l < L; ++l) {
                    const float xl = xt[l];
                    const float* wl = w + l * Cp + cb;
                    for (int j = 0; j < NVEC; ++j) s[j] += load_vf(wl + j * LANES) * xl;
                }
                const vi tv = (vi){} + (int32_t)t;
                for (int j = 0; j < NVEC; ++j) {
                    vi better = s[j] > best[j];
                    best[j] = (vf)(((vi)s[j] & better) | ((vi)best[j] & ~better));
                    arg[j] = (tv & better) | (arg[j] & ~better);
                }
            }
            /* relu(max + b) = max(relu(conv + b)), since adding b and relu are monotone */
            if (cb + BLOCK <= C) {
                for (int j = 0; j < NVEC; ++j) {
                    const vf value = best[j] + load_vf(bias + cb + j * LANES);
                    const vi on = value > 0.0f;
                    const vf positive = (vf)((vi)value & on);
                    const vs at = __builtin_convertvector((arg[j] & on) | ~on, vs);  /* -1 where off */
                    if (out_bf16) {
                        const vh rounded = vf_to_bf16(positive);
                        memcpy((uint16_t*)out + n * ld + cb + j * LANES, &rounded, sizeof rounded);
                    } else {
                        memcpy((float*)out + n * ld + cb + j * LANES, &positive, sizeof positive);
                    }
                    memcpy(idx + n * ld + cb + j * LANES, &at, sizeof at);
                }
            } else {
                const float* scores = (const float*)best;
                const int32_t* args = (const int32_t*)arg;
                for (int64_t c = cb; c < C; ++c) {
                    const float value = scores[c - cb] + bias[c];
                    if (out_bf16)
                        to_bf16((uint16_t*)out, n * ld + c, value > 0.0f ? value : 0.0f);
                    else
                        ((float*)out)[n * ld + c] = value > 0.0f ? value : 0.0f;
                    idx[n * ld + c] = value > 0.0f ? (int16_t)args[c - cb] : -1;
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void conv_max_forward_any(
    const float* x, int64_t n0, int64_t n1, int64_t row, int64_t step, int64_t steps, const float* w, int64_t L,
    int64_t C, int64_t Cp, const float* b, void* out, const int out_bf16, int16_t* idx, int64_t ld) {
    switch (L) {  /* constant tap counts let the compiler unroll the inner loop */
        case 1: conv_max_rows(x, n0, n1, row, step, steps, w, 1, C, Cp, b, out, out_bf16, idx, ld); break;
        case 2: conv_max_rows(x, n0, n1, row, step, steps, w, 2, C, Cp, b, out, out_bf16, idx, ld); break;
        case 3: conv_max_rows(x, n0, n1, row, step, steps, w, 3, C, Cp, b, out, out_bf16, idx, ld); break;
        case 4: conv_max_rows(x, n0, n1, row, step, steps, w, 4, C, Cp, b, out, out_bf16, idx, ld); break;
        case 5: conv_max_rows(x, n0, n1, row, step, steps, w, 5, C, Cp, b, out, out_bf16, idx, ld); break;
        default: conv_max_rows(x, n0, n1, row, step, steps, w, L, C, Cp, b, out, out_bf16, idx, ld);
    }
}
void conv_max_forward(const float* x, int64_t n0, int64_t n1, int64_t row, int64_t step, int64_t steps,
                      const float* w, int64_t L, int64_t C, int64_t Cp, const float* b,
                      float* out, int16_t* idx, int64_t ld) {
    conv_max_forward_any(x, n0, n1, row, step, steps, w, L, C, Cp, b, out, 0, idx, ld);
}
/* the same features rounded to bfloat16 (under autocast, the type a convolution returns there) */
void conv_max_forward_bf16(const float* x, int64_t n0, int64_t n1, int64_t row, int64_t step, int64_t steps,
                           const float* w, int64_t L, int64_t C, int64_t Cp, const float* b,
                           uint16_t* out, int16_t* idx, int64_t ld) {
    conv_max_forward_any(x, n0, n1, row, step, steps, w, L, C, Cp, b, out, 1, idx, ld);
}

/* gx[start[c] + l] += gv[c] w[l, c] over channels c < C and taps l < L, for one row of `row` floats: every
   channel adds into the same few positions, so one running sum per position would be a chain of dependent
   additions; four partial rows (by channel mod 4, in part[4 * row]) keep four chains in flight. */
static inline void conv_max_backward_gx(const float* restrict gv, const int32_t* restrict start,
                                        const float* restrict w, int64_t L, int64_t C, int64_t Cp, int64_t row,
                                        float* restrict part, float* restrict gxr) {
    for (int64_t i = 0; i < 4 * row; ++i) part[i] = 0.0f;
    int64_t c = 0;
    for (; c + 4 <= C; c += 4)
        for (int64_t l = 0; l < L; ++l) {
            part[start[c] + l] += gv[c] * w[l * Cp + c];
            part[row + start[c + 1] + l] += gv[c + 1] * w[l * Cp + c + 1];
            part[2 * row + start[c + 2] + l] += gv[c + 2] * w[l * Cp + c + 2];
            part[3 * row + start[c + 3] + l] += gv[c + 3] * w[l * Cp + c + 3];
        }
    for (; c < C; ++c)
        for (int64_t l = 0; l < L; ++l) part[start[c] + l] += gv[c] * w[l * Cp + c];
    for (int64_t i = 0; i < row; ++i) gxr[i] += (part[i] + part[row + i]) + (part[2 * row + i] + part[3 * row + i]);
}

#if defined(__AVX512F__)
/* gx of one narrow row (row <= 32 floats, taps L <= 8) without scattering L scalars per channel: first
   p[s] = sum of gv[c] wt[c] over the channels whose window starts at s (wt[c] = the filter column w[., c]
   zero-padded to 8 floats: one 256-bit fused multiply-add per channel, into four tables by channel mod 4 so
   four chains of dependent additions run at once; 256-bit, because the tables' loads read the stores just made
   and those forward faster than 512-bit ones), then gx[s + l] += p[s][l] for every start s, each p[s] rotated
   to offset s and added into the row's two registers under masks. The sums have one fixed order: channel,
   table, start (thread-count independent). `tables` holds 4 x 32 vectors of 8 floats. */
#define GX_TAPS 8
static inline void conv_max_backward_gx_narrow(const float* restrict gv, const int32_t* restrict start,
                                               const float* restrict wt, int64_t L, int64_t C, int64_t row,
                                               __m256* restrict tables, __mmask16 lo_mask, __mmask16 hi_mask,
                                               float* restrict gxr) {
    const int64_t starts = row - L + 1;
    __m256* restrict t0 = tables;
    __m256* restrict t1 = tables + 32;
    __m256* restrict t2 = tables + 64;
    __m256* restrict t3 = tables + 96;
    for (int64_t s = 0; s < starts; ++s) t0[s] = t1[s] = t2[s] = t3[s] = _mm256_setzero_ps();
#define GX_ADD(T, C) \
    T[start[C]] = _mm256_fmadd_ps(_mm256_set1_ps(gv[C]), _mm256_load_ps(wt + GX_TAPS * (C)), T[start[C]])
    int64_t c = 0;
    for (; c + 4 <= C; c += 4) {
        GX_ADD(t0, c);
        GX_ADD(t1, c + 1);
        GX_ADD(t2, c + 2);
        GX_ADD(t3, c + 3);
    }
    for (; c < C; ++c) GX_ADD(t0, c);
#undef GX_ADD
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i fifteen = _mm512_set1_epi32(15);
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    for (int64_t s = 0; s < starts; ++s) {
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(t0[s], t1[s]), _mm256_add_ps(t2[s], t3[s]));
        /* lane j of the rotated vector holds p[s][(j - s) mod 16] (zero past 8): position j (low register)
           or 16 + j (high register) */
        const __m512i from = _mm512_and_si512(_mm512_sub_epi32(lane, _mm512_set1_epi32((int32_t)s)), fifteen);
        const __m512 v = _mm512_permutexvar_ps(from, _mm512_zextps256_ps512(sum));
        const uint32_t at = 0xFFFFu << s;  /* positions s .. s + 15 of the row's 32 */
        lo = _mm512_mask_add_ps(lo, (__mmask16)at, lo, v);
        hi = _mm512_mask_add_ps(hi, (__mmask16)(at >> 16), hi, v);
    }
    _mm512_mask_storeu_ps(gxr, lo_mask, _mm512_add_ps(_mm512_maskz_loadu_ps(lo_mask, gxr), lo));
    _mm512_mask_storeu_ps(gxr + 16, hi_mask, _mm512_add_ps(_mm512_maskz_loadu_ps(hi_mask, gxr + 16), hi));
}

/* conv_max_backward for narrow rows (row <= 32 floats, RelGAN's T = 20 of width 1): the row lives in two
   registers, so the gw gathers are permutes, and gv / start / gb are computed 16 channels at a time; gx is
   summed by conv_max_backward_gx_narrow when the filter has at most GX_TAPS taps and its column table fits
   the stack (GX_MAX_CHANNELS), else by the generic version's conv_max_backward_gx. */
#define GX_MAX_CHANNELS 4096
static inline __attribute__((always_inline)) void conv_max_backward_narrow(
    const float* restrict x, int64_t n0, int64_t n1, int64_t row, int64_t step, const float* restrict w, int64_t L,
    int64_t C, int64_t Cp, const int16_t* restrict idx, const void* restrict g, const int g_bf16, int64_t ld,
    float* restrict gx, float* restrict gw, float* restrict gb) {
    float gv[Cp];
    int32_t start[Cp];
    float part[4 * row];
    const int vector_gx = L <= GX_TAPS && Cp <= GX_MAX_CHANNELS;
    float wt[vector_gx ? GX_TAPS * Cp : GX_TAPS] __attribute__((aligned(32)));
    __m256 tables[4 * 32];
    if (vector_gx)
        for (int64_t c = 0; c < Cp; ++c)
            for (int64_t l = 0; l < GX_TAPS; ++l) wt[GX_TAPS * c + l] = l < L ? w[l * Cp + c] : 0.0f;
    const __m512i stepv = _mm512_set1_epi32((int32_t)step);
    const __mmask16 lo_mask = row >= 16 ? 0xFFFF : (__mmask16)((1u << row) - 1);
    const __mmask16 hi_mask = row <= 16 ? 0 : (__mmask16)((1u << (row - 16)) - 1);
    for (int64_t n = n0; n < n1; ++n) {
        const float* xr = x + n * row;
        float* gxr = gx + n * row;
        const __m512 xlo = _mm512_maskz_loadu_ps(lo_mask, xr);
        const __m512 xhi = _mm512_maskz_loadu_ps(hi_mask, xr + 16);
        if (n + PREFETCH_ROWS < n1) prefetch_backward_row(idx, g, g_bf16, n + PREFETCH_ROWS, ld, C);
        for (int64_t cb = 0; cb < C; cb += 16) {
            const __mmask16 m = C - cb >= 16 ? 0xFFFF : (__mmask16)((1u << (C - cb)) - 1);
            const __m512i at = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, idx + n * ld + cb));
            const __mmask16 on = _mm512_cmpge_epi32_mask(at, _mm512_setzero_si512()) & m;  /* ReLU on, c < C */
            const __m512 gvv = g_bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
                                            _mm256_maskz_loadu_epi16(on, (const uint16_t*)g + n * ld + cb)), 16))
                                      : _mm512_maskz_loadu_ps(on, (const float*)g + n * ld + cb);
            /* lanes past C: gv 0 and start 0 (gx adds nothing there), no gb / gw store */
            const __m512i st = _mm512_maskz_mullo_epi32(on, at, stepv);
            _mm512_storeu_ps(gv + cb, gvv);
            _mm512_storeu_si512(start + cb, st);
            _mm512_mask_storeu_ps(gb + cb, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, gb + cb), gvv));
            for (int64_t l = 0; l < L; ++l) {
                const __m512i tap = _mm512_add_epi32(st, _mm512_set1_epi32((int32_t)l));
                const __m512 xs = _mm512_permutex2var_ps(xlo, tap, xhi);  /* x[start + l] */
                float* gwl = gw + l * Cp + cb;
                _mm512_mask_storeu_ps(gwl, m, _mm512_fmadd_ps(gvv, xs, _mm512_loadu_ps(gwl)));
            }
        }
        if (vector_gx)
            conv_max_backward_gx_narrow(gv, start, wt, L, C, row, tables, lo_mask, hi_mask, gxr);
        else
            conv_max_backward_gx(gv, start, w, L, C, Cp, row, part, gxr);
    }
}
#endif

/* Gradients through the ReLU and the argmax (gv = g where idx >= 0, i.e. out > 0, else 0):
   gb[c] += gv[n, c]; gx[n, idx*step + l] += gv[n, c] w[l, c]; gw[l, c] += gv[n, c] x[n, idx*step + l].
   Branch-free (the ReLU pattern is unpredictable); the gw loop vectorises with gathers. g is float32 or
   (conv_max_backward_bf16) bfloat16, the gradient of conv_max_forward_bf16's output. */
static inline __attribute__((always_inline)) void conv_max_backward_any(
    const float* restrict x, int64_t n0, int64_t n1, int64_t row, int64_t step, const float* restrict w, int64_t L,
    int64_t C, int64_t Cp, const int16_t* restrict idx, const void* restrict g, const int g_bf16, int64_t ld,
    float* restrict gx, float* restrict gw, float* restrict gb) {
#if defined(__AVX512F__)
    if (row <= 32) {
        conv_max_backward_narrow(x, n0, n1, row, step, w, L, C, Cp, idx, g, g_bf16, ld, gx, gw, gb);
        return;
    }
#endif
    float gv[C];
    int32_t start[C];
    float part[4 * row];
    for (int64_t n = n0; n < n1; ++n) {
        const float* xr = x + n * row;
        float* gxr = gx + n * row;
        if (n + PREFETCH_ROWS < n1) prefetch_backward_row(idx, g, g_bf16, n + PREFETCH_ROWS, ld, C);
        for (int64_t c = 0; c < C; ++c) {
            const int32_t at = idx[n * ld + c];
            const float gc = g_bf16 ? from_bf16((const uint16_t*)g, n * ld + c) : ((const float*)g)[n * ld + c];
            gv[c] = at >= 0 ? gc : 0.0f;
            start[c] = at >= 0 ? at * (int32_t)step : 0;
            gb[c] += gv[c];
        }
        for (int64_t l = 0; l < L; ++l) {
            float* gwl = gw + l * Cp;
            for (int64_t c = 0; c < C; ++c) gwl[c] += gv[c] * xr[start[c] + l];
        }
        conv_max_backward_gx(gv, start, w, L, C, Cp, row, part, gxr);
    }
}
void conv_max_backward(const float* x, int64_t n0, int64_t n1, int64_t row, int64_t step, const float* w,
                       int64_t L, int64_t C, int64_t Cp, const int16_t* idx, const float* g, int64_t ld,
                       float* gx, float* gw, float* gb) {
    conv_max_backward_any(x, n0, n1, row, step, w, L, C, Cp, idx, g, 0, ld, gx, gw, gb);
}
void conv_max_backward_bf16(const float* x, int64_t n0, int64_t n1, int64_t row, int64_t step, const float* w,
                            int64_t L, int64_t C, int64_t Cp, const int16_t* idx, const uint16_t* g, int64_t ld,
                            float* gx, float* gw, float* gb) {
    conv_max_backward_any(x, n0, n1, row, step, w, L, C, Cp, idx, g, 1, ld, gx, gw, gb);
}

/* ------------------------------------------------------------------ highway gate + dropout */
/* Cephes' expf (about 1 ulp), written so that the compiler vectorises it. */
static inline float exp_f32(float x) {
    x = x < -87.0f ? -87.0f : x;  /* ternaries: __builtin_fminf / fmaxf would block vectorisation */
    x = x > 88.0f ? 88.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round(x / ln 2) */
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }
static inline float relu_f32(float x) { return x > 0.0f ? x : 0.0f; }

/* SplitMix64 (Steele, Lea and Flood, 2014): a counter-based generator, word i of stream `seed` is
   splitmix64(seed + i); textgan.models.highway.counter_words is the same function in torch. */
static inline uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The dropout bits of row n of an (N, F) tensor: element e = n F + f takes 16-bit lane e mod 4 of word e / 4
   (torch's int16 view of the little-endian words), written to words[] (at least F / 4 + 2 entries); returns
   the row's first element. */
static inline const int16_t* dropout_row_bits(uint64_t seed, int64_t n, int64_t F, uint64_t* restrict words) {
    const int64_t first = n * F, w0 = first >> 2, w1 = (first + F + 3) >> 2;
    for (int64_t j = w0; j < w1; ++j) words[j - w0] = splitmix64(seed + (uint64_t)j);
    return (const int16_t*)(const void*)words + (first & 3);
}

/* a = [x W_g + b_g | x W_t + b_t] (N, 2F), x (N, F): out = drop(x + t (g - x)) with g = relu(a_g),
   t = sigmoid(a_t + gate_bias), drop(h) = keep ? h * scale : 0, keep = bits < threshold with the bits of
   dropout_row_bits(seed) (all kept when dropping is 0). The backward pass writes da (N, 2F, a's type) and
   dx (N, F, x's type). AT / OT / XT: the types of a, of out (and its gradient) and of x (and dx); the maths
   runs in float32. Branch-free loops vectorise. */
#define HIGHWAY_KERNELS(NAME, SUFFIX, AT, OSUFFIX, OT, XSUFFIX, XT) \
void highway_forward_##NAME(const AT* restrict a, const XT* restrict x, int32_t dropping, \
                            uint64_t seed, int32_t threshold, float scale, float gate_bias, int64_t n0, int64_t n1, \
                            int64_t F, OT* restrict out) { \
    float row[sizeof(OT) == sizeof(float) ? 1 : F]; /* a bfloat16 output is rounded from this row */ \
    uint64_t words[F / 4 + 2]; \
    for (int64_t n = n0; n < n1; ++n) { \
        const AT* ar = a + n * 2 * F; \
        const XT* xr = x + n * F; \
        float* o = sizeof(OT) == sizeof(float) ? (float*)(void*)(out + n * F) : row; \
        for (int64_t f = 0; f < F; ++f) { \
            const float t = sigmoid_f32(from_##SUFFIX(ar, F + f) + gate_bias); \
            const float xf = from_##XSUFFIX(xr, f); \
            o[f] = xf + t * (relu_f32(from_##SUFFIX(ar, f)) - xf); \
        } \
        if (dropping) { \
            const int16_t* br = dropout_row_bits(seed, n, F, words); \
            for (int64_t f = 0; f < F; ++f) o[f] = br[f] < threshold ? o[f] * scale : 0.0f; \
        } \
        if (sizeof(OT) != sizeof(float)) \
            for (int64_t f = 0; f < F; ++f) to_##OSUFFIX(out, n * F + f, o[f]); \
    } \
} \
static inline void highway_backward_row_##NAME(const AT* restrict ar, const XT* restrict xr, \
                                               const float* restrict gh, float gate_bias, int64_t F, \
                                               AT* restrict dr, XT* restrict dxr) { \
    for (int64_t f = 0; f < F; ++f) { \
        const float ag = from_##SUFFIX(ar, f); \
        const float t = sigmoid_f32(from_##SUFFIX(ar, F + f) + gate_bias); \
        const float g = gh[f]; \
        to_##SUFFIX(dr, f, ag > 0.0f ? g * t : 0.0f); \
        to_##SUFFIX(dr, F + f, g * (relu_f32(ag) - from_##XSUFFIX(xr, f)) * t * (1.0f - t)); \
        to_##XSUFFIX(dxr, f, g * (1.0f - t)); \
    } \
} \
void highway_backward_##NAME(const AT* restrict a, const XT* restrict x, int32_t dropping, \
                             uint64_t seed, int32_t threshold, float scale, float gate_bias, int64_t n0, int64_t n1, \
                             int64_t F, const OT* restrict gout, AT* restrict da, XT* restrict dx) { \
    uint64_t words[F / 4 + 2]; \
    float row[F]; /* the output's gradient in float32, dropped */ \
    for (int64_t n = n0; n < n1; ++n) { \
        const float* gh = (const float*)(const void*)(gout + n * F); /* read as is when OT is float */ \
        if (dropping) { \
            const int16_t* br = dropout_row_bits(seed, n, F, words); \
            for (int64_t f = 0; f < F; ++f) \
                row[f] = br[f] < threshold ? from_##OSUFFIX(gout, n * F + f) * scale : 0.0f; \
            gh = row; \
        } else if (sizeof(OT) != sizeof(float)) { \
            for (int64_t f = 0; f < F; ++f) row[f] = from_##OSUFFIX(gout, n * F + f); \
            gh = row; \
        } \
        highway_backward_row_##NAME(a + n * 2 * F, x + n * F, gh, gate_bias, F, da + n * 2 * F, dx + n * F); \
    } \
}
HIGHWAY_KERNELS(f32, f32, float, f32, float, f32, float)
/* under autocast: the output in bfloat16 (what the next product casts it to anyway) and its gradient read as
   bfloat16 (what that product's backward returns), saving two casts of (N, F) per call; x in float32 ... */
HIGHWAY_KERNELS(bf16, bf16, uint16_t, bf16, uint16_t, f32, float)
/* ... or in bfloat16 (conv_max_forward_bf16's features), its gradient then too */
HIGHWAY_KERNELS(bf16x, bf16, uint16_t, bf16, uint16_t, bf16, uint16_t)

/* ------------------------------------------------------------------ token log-likelihood */
/* log p(target) = (x[target] - m) - log(sum_v exp(x[v] - m)) with m = max_v x[v], per row of V logits (the
   log-softmax and gather of torch, in float32 whatever the logits' type), and the row's log-sum-exp
   lse = m + log(sum) for the backward pass: d/dx[v] = g * ([v == target] - exp(x[v] - lse)). exp of arguments
   below -87 is 0 here (Cephes' range; with flushed subnormals torch's is 0 there too). Reductions run in
   16-lane vector accumulators over chunks, so a row's sums have one fixed order whatever the threads. */
#define CHUNK 256
static inline float exp_or_zero(float x) { const float e = exp_f32(x); return x < -87.0f ? 0.0f : e; }
static inline vf vmax(vf a, vf b) { const vi m = a > b; return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline float hmax(vf v) { float m = v[0]; for (int i = 1; i < LANES; ++i) m = v[i] > m ? v[i] : m; return m; }
static inline float hsum(vf v) { float s = 0.0f; for (int i = 0; i < LANES; ++i) s += v[i]; return s; }

#define TOKEN_LOGP_KERNELS(SUFFIX, AT) \
void token_logp_forward_##SUFFIX(const AT* restrict logits, const int64_t* restrict targets, int64_t n0, \
                                 int64_t n1, int64_t V, float* restrict logp, float* restrict lse) { \
    float buf[CHUNK] __attribute__((aligned(64))); \
    for (int64_t n = n0; n < n1; ++n) { \
        const AT* row = logits + n * V; \
        vf vm = {0}; \
        for (int i = 0; i < LANES; ++i) vm[i] = -INFINITY; \
        for (int64_t c = 0; c < V; c += CHUNK) { \
            const int64_t len = V - c < CHUNK ? V - c : CHUNK; \
            for (int64_t i = 0; i < len; ++i) buf[i] = from_##SUFFIX(row, c + i); \
            for (int64_t i = len; i < CHUNK; ++i) buf[i] = -INFINITY; \
            for (int64_t i = 0; i < CHUNK; i += LANES) vm = vmax(vm, load_vf(buf + i)); \
        } \
        const float m = hmax(vm); \
        vf vs = {0}; \
        for (int64_t c = 0; c < V; c += CHUNK) { \
            const int64_t len = V - c < CHUNK ? V - c : CHUNK; \
            for (int64_t i = 0; i < len; ++i) buf[i] = exp_or_zero(from_##SUFFIX(row, c + i) - m); \
            for (int64_t i = len; i < CHUNK; ++i) buf[i] = 0.0f; \
            for (int64_t i = 0; i < CHUNK; i += LANES) vs += load_vf(buf + i); \
        } \
        const float log_sum = logf(hsum(vs)); \
        logp[n] = (from_##SUFFIX(row, targets[n]) - m) - log_sum; \
        lse[n] = m + log_sum; \
    } \
} \
void token_logp_backward_##SUFFIX(const AT* restrict logits, const int64_t* restrict targets, \
                                  const float* restrict lse, const float* restrict grad, int64_t n0, int64_t n1, \
                                  int64_t V, AT* restrict grad_logits) { \
    for (int64_t n = n0; n < n1; ++n) { \
        const AT* row = logits + n * V; \
        AT* out = grad_logits + n * V; \
        const float g = grad[n], l = lse[n]; \
        for (int64_t v = 0; v < V; ++v) to_##SUFFIX(out, v, -(exp_or_zero(from_##SUFFIX(row, v) - l) * g)); \
        const int64_t t = targets[n]; \
        to_##SUFFIX(out, t, g - exp_or_zero(from_##SUFFIX(row, t) - l) * g); \
    } \
}
TOKEN_LOGP_KERNELS(f32, float)
TOKEN_LOGP_KERNELS(bf16, uint16_t)

/* ------------------------------------------------------------------ Gumbel-Max step */
/* Counter-based noise: the 64-bit SplitMix64 output for counter seed + index (Steele et al., 2014), whose top
   23 bits k give u = (k + 1/2) / 2^23, exactly representable and strictly inside (0, 1) (with 24 bits the
   largest would round to 1), and the standard Gumbel g = -log(-log u). Any row range of any
   thread draws the same numbers for the same (seed, index). */
/* Cephes' logf (about 1 ulp) for positive normal x, branch-free so that loops over it vectorise. */
static inline float log_f32(float x) {
    int32_t i;
    memcpy(&i, &x, sizeof i);
    int32_t e = ((i >> 23) & 0xff) - 126;
    i = (i & 0x807fffff) | 0x3f000000;  /* x = m 2^e, m in [0.5, 1) */
    float m;
    memcpy(&m, &i, sizeof m);
    const int32_t small = m < 0.707106781186547524f;
    e -= small;
    m = small ? m + m - 1.0f : m - 1.0f;
    const float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    const float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return (m + y) + 0.693359375f * fe;
}
static inline float gumbel_f32(uint64_t seed, uint64_t index) {
    const float u = ((float)(splitmix64(seed + index) >> 41) + 0.5f) * 1.1920928955078125e-7f;  /* 2^-23 */
    return -log_f32(-log_f32(u));
}

/* Per row n of V logits x: g = Gumbel noise for (seed, n V + v), token[n] = the first argmax of x + g, and
   out (row n at out + n * ld) = g (write_noise) or softmax(beta (x + g)), computed in float32 and stored as OT:
   float32, or bfloat16 rounded once at the end (the rows then live in a float32 scratch row of V). */
#define GUMBEL_MAX_KERNELS(NAME, SUFFIX, AT, OSUFFIX, OT) \
void gumbel_max_##NAME(const AT* restrict logits, int64_t n0, int64_t n1, int64_t V, uint64_t seed, float beta, \
                       int32_t write_noise, OT* restrict out, int64_t ld, int64_t* restrict tokens) { \
    float buf[CHUNK] __attribute__((aligned(64))); \
    float scratch[sizeof(OT) == sizeof(float) ? 1 : V]; \
    for (int64_t n = n0; n < n1; ++n) { \
        const AT* row = logits + n * V; \
        float* o = sizeof(OT) == sizeof(float) ? (float*)(void*)(out + n * ld) : scratch; \
        const uint64_t base = seed + (uint64_t)n * (uint64_t)V; \
        vf vm; \
        for (int i = 0; i < LANES; ++i) vm[i] = -INFINITY; \
        for (int64_t c = 0; c < V; c += CHUNK) { \
            const int64_t len = V - c < CHUNK ? V - c : CHUNK; \
            for (int64_t i = 0; i < len; ++i) { \
                const float g = gumbel_f32(base, (uint64_t)(c + i)); \
                const float p = from_##SUFFIX(row, c + i) + g; \
                buf[i] = p; \
                o[c + i] = write_noise ? g : p; \
            } \
            for (int64_t i = len; i < CHUNK; ++i) buf[i] = -INFINITY; \
            for (int64_t i = 0; i < CHUNK; i += LANES) vm = vmax(vm, load_vf(buf + i)); \
        } \
        const float m = hmax(vm); \
        int64_t arg = 0; \
        for (int64_t v = 0; v < V; ++v) { \
            const float p = write_noise ? from_##SUFFIX(row, v) + o[v] : o[v]; \
            if (p == m) { arg = v; break; } \
        } \
        tokens[n] = arg; \
        float inverse = 1.0f; \
        if (!write_noise) { \
            const float top = m * beta; \
            vf vs = {0}; \
            for (int64_t c = 0; c < V; c += CHUNK) { \
                const int64_t len = V - c < CHUNK ? V - c : CHUNK; \
                for (int64_t i = 0; i < len; ++i) { \
                    const float e = exp_or_zero(o[c + i] * beta - top); \
                    o[c + i] = e; \
                    buf[i] = e; \
                } \
                for (int64_t i = len; i < CHUNK; ++i) buf[i] = 0.0f; \
                for (int64_t i = 0; i < CHUNK; i += LANES) vs += load_vf(buf + i); \
            } \
            inverse = 1.0f / hsum(vs); \
        } \
        if (sizeof(OT) == sizeof(float)) { \
            if (!write_noise) for (int64_t v = 0; v < V; ++v) o[v] *= inverse; \
        } else { \
            for (int64_t v = 0; v < V; ++v) to_##OSUFFIX(out, n * ld + v, o[v] * inverse); \
        } \
    } \
}
GUMBEL_MAX_KERNELS(f32, f32, float, f32, float)
GUMBEL_MAX_KERNELS(bf16, bf16, uint16_t, f32, float)
/* bfloat16 rows: under autocast without a graph, the type the discriminator's first product reads them in */
GUMBEL_MAX_KERNELS(f32_to_bf16, f32, float, bf16, uint16_t)
GUMBEL_MAX_KERNELS(bf16_to_bf16, bf16, uint16_t, bf16, uint16_t)

/* ------------------------------------------------------------------ row ranges on torch's OpenMP threads */
/* Built with -fopenmp, this library resolves libgomp.so.1 to the copy torch has already loaded, so
   run_parts(parts, work) calls work(0 .. parts - 1) on the threads torch's own operators use (already awake)
   instead of a second pool competing with them for the cores. work is a ctypes callback: it takes the GIL only
   to call a kernel, which releases it again. */
typedef void (*part_callback)(int64_t part);
int32_t openmp_build(void) {
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}
int32_t openmp_max_threads(void) {  /* torch.set_num_threads sets this too when the runtime is shared */
#if defined(_OPENMP)
    return (int32_t)omp_get_max_threads();
#else
    return 1;
#endif
}
void run_parts(int64_t parts, part_callback work) {
#if defined(_OPENMP)
#pragma omp parallel for num_threads(parts) schedule(static, 1)
#endif
    for (int64_t p = 0; p < parts; ++p) work(p);
}
