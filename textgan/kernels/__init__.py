"""Everything native or precision-specific, below the models: the C kernels, building and loading them, the one
policy that decides between a native kernel and its torch specification, and the fast paths.

* :mod:`~textgan.kernels.policy`: :func:`~textgan.kernels.policy.native_applies`, the single decision (device,
  dtype, the caller's shape limits, ``backend``, ``TEXTGAN_NATIVE=0``, whether the library built);
* :mod:`~textgan.kernels.build`: compiles ``csrc/*.c`` with ``$CC`` into ``$TEXTGAN_CACHE/native`` on first use
  (or ``textgan-build-kernels``), loads it with ``ctypes``, reports a failed compile with the compiler's message;
* :mod:`~textgan.kernels.parallel`: a kernel's rows split over torch's threads;
* native fast paths, each with ``applies(...)`` (the policy, with its own limits) and the function it runs:
  :mod:`~textgan.kernels.conv_max` (convolution + max-pool over time), :mod:`~textgan.kernels.highway` (the
  highway's gate and dropout), :mod:`~textgan.kernels.token_log_probs` (teacher-forced log-likelihood),
  :mod:`~textgan.kernels.gumbel_max` (RelGAN's sampling step), :mod:`~textgan.kernels.rmc_step` (the RMC
  cell's elementwise work);
* torch-only fast paths (reassociated products and casts, exact in value or within rounding):
  :mod:`~textgan.kernels.step_products`, :mod:`~textgan.kernels.weight_casts`,
  :mod:`~textgan.kernels.composed_linear`, :mod:`~textgan.kernels.known_output_linear`;
* precision: :mod:`~textgan.kernels.bf16_products` (bf16 products emulated in float32 on CPUs without bf16
  kernels) and :mod:`~textgan.kernels.numerics` (denormals, bf16 kernel detection, the slow-bf16 warning).

The models (:mod:`textgan.models`) hold the readable torch formulation of each computation and call a fast
path from there in one line; this package imports torch, numpy and nothing of textgan's above it.
"""
