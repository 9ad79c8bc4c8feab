// nn.cu: the small training stack around the norms (dev.jnorm.nn): convolution by im2col + GEMM,
// bias, ReLU, 2x2 max pooling, global average pooling, softmax cross-entropy, the SGD step and the
// clamp that keeps Batch-Instance Norm's rho in [0, 1].
//
// Elementwise kernels: one thread per output element, grid-stride, one pass. Gradients that sum
// several contributions gather them instead of scattering (col2im sums an input pixel's patches,
// max-pool backward checks whether the pixel was its window's maximum), so no atomics are needed and
// results are deterministic. Reductions (bias gradient, average pooling) use one block per channel or
// per (n, c) with block_reduce. gemm_fallback is a 16x16-tiled GEMM in shared memory for machines
// where cuBLAS (libcublas.so.12) cannot be loaded: correct, not fast.
//
// Activations may be float32, float16 or bfloat16 (an entry per storage type: name, name_f16,
// name_bf16); parameters, their gradients, losses and labels stay fp32, and every sum is fp32.
// 16-bit values are only moved (im2col, ReLU, max pooling) or rounded once from an fp32 result.
#include "common.cuh"

// cols[(c·k + ki)·k + kj][i·W + j] = x[c][i + ki − pad][j + kj − pad], 0 outside the image.
template <class S>
__device__ __forceinline__ void im2col_body(In<S> x, int C, int H, int W, int k, int pad, Out<S> cols) {
    i64 plane = (i64)H * W;
    GRID_STRIDE(idx, (i64)C * k * k * plane) {
        i64 row = idx / plane;
        i64 pix = idx % plane;
        int c = (int)(row / (k * k));
        int ki = (int)(row / k % k);
        int kj = (int)(row % k);
        int si = (int)(pix / W) + ki - pad;
        int sj = (int)(pix % W) + kj - pad;
        cols[idx] = si >= 0 && si < H && sj >= 0 && sj < W ? x[(c * (i64)H + si) * W + sj] : from_float<S>(0.f);
    }
}
#define IM2COL_ENTRY(name, S)                                                \
    KERNEL name(In<S> x, int C, int H, int W, int k, int pad, Out<S> cols) { \
        im2col_body<S>(x, C, H, W, k, pad, cols);                            \
    }
IM2COL_ENTRY(im2col, float)
IM2COL_ENTRY(im2col_f16, Half)
IM2COL_ENTRY(im2col_bf16, BFloat16)

// dx[c][si][sj] = Σ over (ki, kj) of cols[(c·k + ki)·k + kj][(si − ki + pad)·W + sj − kj + pad]:
// cols fp32 (Wᵀ·dy as the GEMM accumulated it), dx rounded once to its storage.
template <class S>
__device__ __forceinline__ void col2im_body(In<float> cols, int C, int H, int W, int k, int pad, Out<S> dx) {
    i64 plane = (i64)H * W;
    GRID_STRIDE(idx, (i64)C * plane) {
        int c = (int)(idx / plane);
        int si = (int)(idx % plane / W);
        int sj = (int)(idx % W);
        float sum = 0.f;
        for (int ki = 0; ki < k; ki++) {
            int i = si - ki + pad;
            if (i < 0 || i >= H) continue;
            for (int kj = 0; kj < k; kj++) {
                int j = sj - kj + pad;
                if (j >= 0 && j < W) sum += cols[((i64)(c * k + ki) * k + kj) * plane + (i64)i * W + j];
            }
        }
        put(dx, idx, sum);
    }
}
#define COL2IM_ENTRY(name, S)                                                     \
    KERNEL name(In<float> cols, int C, int H, int W, int k, int pad, Out<S> dx) { \
        col2im_body<S>(cols, C, H, W, k, pad, dx);                                \
    }
COL2IM_ENTRY(col2im, float)
COL2IM_ENTRY(col2im_f16, Half)
COL2IM_ENTRY(col2im_bf16, BFloat16)

#define ADD_BIAS_ENTRY(name, STORAGE)                                          \
    KERNEL name(Out<STORAGE> y, In<float> bias, i64 N, i64 C, i64 S) {         \
        GRID_STRIDE(i, N * C * S) put(y, i, to_float(y[i]) + bias[i / S % C]); \
    }
ADD_BIAS_ENTRY(add_bias, float)
ADD_BIAS_ENTRY(add_bias_f16, Half)
ADD_BIAS_ENTRY(add_bias_bf16, BFloat16)

// One block per channel: grad[c] += Σ over n and s of dy[n, c, s] (fp32, whatever dy's storage).
template <class Storage>
__device__ __forceinline__ void bias_grad_body(In<Storage> dy, i64 N, i64 C, i64 S, Out<float> grad) {
    for (i64 c = blockIdx.x; c < C; c += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 t = threadIdx.x; t < N * S; t += blockDim.x) acc.a += to_float(dy[(t / S * C + c) * S + t % S]);
        acc = block_reduce(acc);
        if (threadIdx.x == 0) grad[c] += acc.a;
    }
}
#define BIAS_GRAD_ENTRY(name, STORAGE)                                  \
    KERNEL name(In<STORAGE> dy, i64 N, i64 C, i64 S, Out<float> grad) { \
        bias_grad_body<STORAGE>(dy, N, C, S, grad);                     \
    }
BIAS_GRAD_ENTRY(bias_grad, float)
BIAS_GRAD_ENTRY(bias_grad_f16, Half)
BIAS_GRAD_ENTRY(bias_grad_bf16, BFloat16)

// ReLU keeps x's value (no rounding; NaN stays NaN, as PyTorch's); its backward passes dy except
// where y <= 0 (PyTorch's threshold_backward: a NaN output passes dy).
#define RELU_ENTRY(name, S)                                                                                            \
    KERNEL name(In<S> x, Out<S> y, i64 n) {                                                                            \
        GRID_STRIDE(i, n) y[i] = to_float(x[i]) > 0.f || to_float(x[i]) != to_float(x[i]) ? x[i] : from_float<S>(0.f); \
    }
RELU_ENTRY(relu, float)
RELU_ENTRY(relu_f16, Half)
RELU_ENTRY(relu_bf16, BFloat16)

#define RELU_BACKWARD_ENTRY(name, S)                                                  \
    KERNEL name(In<S> y, In<S> dy, Out<S> dx, i64 n) {                                \
        GRID_STRIDE(i, n) dx[i] = to_float(y[i]) <= 0.f ? from_float<S>(0.f) : dy[i]; \
    }
RELU_BACKWARD_ENTRY(relu_backward, float)
RELU_BACKWARD_ENTRY(relu_backward_f16, Half)
RELU_BACKWARD_ENTRY(relu_backward_bf16, BFloat16)

// One thread per output: the maximum of its 2x2 window (the first NaN, or the first maximum).
template <class S>
__device__ __forceinline__ void max_pool_body(In<S> x, i64 planes, int H, int W, Out<S> y, Out<S> window) {
    int oh = H / 2;
    int ow = W / 2;
    GRID_STRIDE(o, planes * oh * ow) {
        i64 p = o / ((i64)oh * ow);
        int i = (int)(o / ow % oh);
        int j = (int)(o % ow);
        int best = 0;
        float max = -INFINITY;
        for (int w = 0; w < 4; w++) {
            float v = to_float(x[(p * H + 2 * i + w / 2) * W + 2 * j + w % 2]);
            if (v > max || v != v) {
                max = v;
                best = w;
                if (v != v) break;
            }
        }
        put(y, o, max);
        put(window, o, (float)best);
    }
}
#define MAX_POOL_ENTRY(name, S)                                               \
    KERNEL name(In<S> x, i64 planes, int H, int W, Out<S> y, Out<S> window) { \
        max_pool_body<S>(x, planes, H, W, y, window);                         \
    }
MAX_POOL_ENTRY(max_pool, float)
MAX_POOL_ENTRY(max_pool_f16, Half)
MAX_POOL_ENTRY(max_pool_bf16, BFloat16)

// One thread per input pixel: dy of its window if it was that window's maximum, else 0.
template <class S>
__device__ __forceinline__ void max_pool_backward_body(In<S> dy, In<S> window, i64 planes, int H, int W, Out<S> dx) {
    int oh = H / 2;
    int ow = W / 2;
    GRID_STRIDE(idx, planes * H * W) {
        i64 p = idx / ((i64)H * W);
        int si = (int)(idx / W % H);
        int sj = (int)(idx % W);
        int i = si / 2;
        int j = sj / 2;
        float g = 0.f;
        if (i < oh && j < ow) {
            i64 o = (p * oh + i) * ow + j;
            if ((int)to_float(window[o]) == (si % 2) * 2 + sj % 2) g = to_float(dy[o]);
        }
        put(dx, idx, g);
    }
}
#define MAX_POOL_BACKWARD_ENTRY(name, S)                                       \
    KERNEL name(In<S> dy, In<S> window, i64 planes, int H, int W, Out<S> dx) { \
        max_pool_backward_body<S>(dy, window, planes, H, W, dx);               \
    }
MAX_POOL_BACKWARD_ENTRY(max_pool_backward, float)
MAX_POOL_BACKWARD_ENTRY(max_pool_backward_f16, Half)
MAX_POOL_BACKWARD_ENTRY(max_pool_backward_bf16, BFloat16)

// One block per (n, c): y = mean over s, summed in fp32.
template <class Storage>
__device__ __forceinline__ void average_pool_body(In<Storage> x, i64 rows, i64 S, Out<Storage> y) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 s = threadIdx.x; s < S; s += blockDim.x) acc.a += to_float(x[r * S + s]);
        acc = block_reduce(acc);
        if (threadIdx.x == 0) put(y, r, acc.a / (float)S);
    }
}
#define AVERAGE_POOL_ENTRY(name, STORAGE)                         \
    KERNEL name(In<STORAGE> x, i64 rows, i64 S, Out<STORAGE> y) { \
        average_pool_body<STORAGE>(x, rows, S, y);                \
    }
AVERAGE_POOL_ENTRY(average_pool, float)
AVERAGE_POOL_ENTRY(average_pool_f16, Half)
AVERAGE_POOL_ENTRY(average_pool_bf16, BFloat16)

#define AVERAGE_POOL_BACKWARD_ENTRY(name, STORAGE)                           \
    KERNEL name(In<STORAGE> dy, i64 rows, i64 S, Out<STORAGE> dx) {          \
        GRID_STRIDE(i, rows * S) put(dx, i, to_float(dy[i / S]) / (float)S); \
    }
AVERAGE_POOL_BACKWARD_ENTRY(average_pool_backward, float)
AVERAGE_POOL_BACKWARD_ENTRY(average_pool_backward_f16, Half)
AVERAGE_POOL_BACKWARD_ENTRY(average_pool_backward_bf16, BFloat16)

// One thread per sample b: loss[b] = log Σ exp(z) − z[label], dz = (softmax − onehot)/B; the sum
// in fp32, the exponentials computed again for dz rather than kept in dz's (maybe 16-bit) storage.
template <class S>
__device__ __forceinline__ void softmax_cross_entropy_body(In<S> logits, In<float> labels, int B, int K,
                                                           Out<float> loss, Out<S> dlogits) {
    GRID_STRIDE(b, (i64)B) {
        auto z = logits + b * K;
        float max = -INFINITY;
        for (int k = 0; k < K; k++) max = fmaxf(max, to_float(z[k]));
        float sum = 0.f;
        for (int k = 0; k < K; k++) sum += expf(to_float(z[k]) - max);
        int label = (int)labels[b];
        loss[b] = logf(sum) + max - to_float(z[label]);
        for (int k = 0; k < K; k++) {
            put(dlogits, b * K + k, (expf(to_float(z[k]) - max) / sum - (k == label ? 1.f : 0.f)) / (float)B);
        }
    }
}
#define SOFTMAX_CROSS_ENTROPY_ENTRY(name, S)                                                     \
    KERNEL name(In<S> logits, In<float> labels, int B, int K, Out<float> loss, Out<S> dlogits) { \
        softmax_cross_entropy_body<S>(logits, labels, B, K, loss, dlogits);                      \
    }
SOFTMAX_CROSS_ENTROPY_ENTRY(softmax_cross_entropy, float)
SOFTMAX_CROSS_ENTROPY_ENTRY(softmax_cross_entropy_f16, Half)
SOFTMAX_CROSS_ENTROPY_ENTRY(softmax_cross_entropy_bf16, BFloat16)

KERNEL sgd_step(Out<float> param, In<float> grad, Out<float> velocity, i64 n, float lr, float momentum,
                float weightDecay) {
    GRID_STRIDE(i, n) {
        float v = momentum * velocity[i] + grad[i] + weightDecay * param[i];
        velocity[i] = v;
        param[i] -= lr * v;
    }
}

// In place, x = min(max(x, lo), hi); NaN stays NaN.
KERNEL clamp_values(Out<float> x, i64 n, float lo, float hi) {
    GRID_STRIDE(i, n) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

// Row-major C = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B) k×n; A is stored m×k (or k×m when
// transposed) with row length lda, B likewise with ldb; A and B of one storage type, C and the
// accumulation fp32 (cuBLAS's CUBLAS_COMPUTE_32F). A 256-thread block computes a 16x16 tile.
#define TILE 16
template <class S>
__device__ __forceinline__ void gemm_fallback_body(int transA, int transB, int m, int n, int k, float alpha, In<S> A,
                                                   int lda, In<S> B, int ldb, float beta, Out<float> C) {
    STATIC_SHARED(float, As, TILE*(TILE + 1));  // As[ty][tx] at ty·(TILE + 1) + tx
    STATIC_SHARED(float, Bs, TILE*(TILE + 1));
    int ty = threadIdx.x / TILE;
    int tx = threadIdx.x % TILE;
    i64 tilesN = (n + TILE - 1) / TILE;
    i64 tiles = (i64)((m + TILE - 1) / TILE) * tilesN;
    for (i64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        int row = (int)(t / tilesN) * TILE + ty;
        int col = (int)(t % tilesN) * TILE + tx;
        float acc = 0.f;
        for (int k0 = 0; k0 < k; k0 += TILE) {
            int ka = k0 + tx;
            int kb = k0 + ty;
            As[ty * (TILE + 1) + tx] =
                row < m && ka < k ? to_float(transA ? A[(i64)ka * lda + row] : A[(i64)row * lda + ka]) : 0.f;
            Bs[ty * (TILE + 1) + tx] =
                kb < k && col < n ? to_float(transB ? B[(i64)col * ldb + kb] : B[(i64)kb * ldb + col]) : 0.f;
            __syncthreads();
            for (int q = 0; q < TILE; q++) acc += As[ty * (TILE + 1) + q] * Bs[q * (TILE + 1) + tx];
            __syncthreads();
        }
        if (row < m && col < n) {
            i64 o = (i64)row * n + col;
            C[o] = alpha * acc + (beta == 0.f ? 0.f : beta * C[o]);
        }
    }
}
#define GEMM_FALLBACK_ENTRY(name, S)                                                                          \
    KERNEL name(int transA, int transB, int m, int n, int k, float alpha, In<S> A, int lda, In<S> B, int ldb, \
                float beta, Out<float> C) {                                                                   \
        gemm_fallback_body<S>(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C);                       \
    }
GEMM_FALLBACK_ENTRY(gemm_fallback, float)
GEMM_FALLBACK_ENTRY(gemm_fallback_f16, Half)
GEMM_FALLBACK_ENTRY(gemm_fallback_bf16, BFloat16)
