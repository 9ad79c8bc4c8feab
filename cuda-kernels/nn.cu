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
#include "common.cuh"

// cols[(c·k + ki)·k + kj][i·W + j] = x[c][i + ki − pad][j + kj − pad], 0 outside the image.
KERNEL im2col(In<float> x, int C, int H, int W, int k, int pad, Out<float> cols) {
    i64 plane = (i64)H * W;
    GRID_STRIDE(idx, (i64)C * k * k * plane) {
        i64 row = idx / plane;
        i64 pix = idx % plane;
        int c = (int)(row / (k * k));
        int ki = (int)(row / k % k);
        int kj = (int)(row % k);
        int si = (int)(pix / W) + ki - pad;
        int sj = (int)(pix % W) + kj - pad;
        cols[idx] = si >= 0 && si < H && sj >= 0 && sj < W ? x[(c * (i64)H + si) * W + sj] : 0.f;
    }
}

// dx[c][si][sj] = Σ over (ki, kj) of cols[(c·k + ki)·k + kj][(si − ki + pad)·W + sj − kj + pad].
KERNEL col2im(In<float> cols, int C, int H, int W, int k, int pad, Out<float> dx) {
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
        dx[idx] = sum;
    }
}

KERNEL add_bias(Out<float> y, In<float> bias, i64 N, i64 C, i64 S) {
    GRID_STRIDE(i, N * C * S) y[i] += bias[i / S % C];
}

// One block per channel: grad[c] += Σ over n and s of dy[n, c, s].
KERNEL bias_grad(In<float> dy, i64 N, i64 C, i64 S, Out<float> grad) {
    for (i64 c = blockIdx.x; c < C; c += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 t = threadIdx.x; t < N * S; t += blockDim.x) acc.a += dy[(t / S * C + c) * S + t % S];
        acc = block_reduce(acc);
        if (threadIdx.x == 0) grad[c] += acc.a;
    }
}

KERNEL relu(In<float> x, Out<float> y, i64 n) {
    GRID_STRIDE(i, n) y[i] = fmaxf(x[i], 0.f);
}

KERNEL relu_backward(In<float> y, In<float> dy, Out<float> dx, i64 n) {
    GRID_STRIDE(i, n) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

// One thread per output: the maximum of its 2x2 window (the first NaN, or the first maximum).
KERNEL max_pool(In<float> x, i64 planes, int H, int W, Out<float> y, Out<float> window) {
    int oh = H / 2;
    int ow = W / 2;
    GRID_STRIDE(o, planes * oh * ow) {
        i64 p = o / ((i64)oh * ow);
        int i = (int)(o / ow % oh);
        int j = (int)(o % ow);
        int best = 0;
        float max = -INFINITY;
        for (int w = 0; w < 4; w++) {
            float v = x[(p * H + 2 * i + w / 2) * W + 2 * j + w % 2];
            if (v > max || v != v) {
                max = v;
                best = w;
                if (v != v) break;
            }
        }
        y[o] = max;
        window[o] = (float)best;
    }
}

// One thread per input pixel: dy of its window if it was that window's maximum, else 0.
KERNEL max_pool_backward(In<float> dy, In<float> window, i64 planes, int H, int W, Out<float> dx) {
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
            if ((int)window[o] == (si % 2) * 2 + sj % 2) g = dy[o];
        }
        dx[idx] = g;
    }
}

// One block per (n, c): y = mean over s.
KERNEL average_pool(In<float> x, i64 rows, i64 S, Out<float> y) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 s = threadIdx.x; s < S; s += blockDim.x) acc.a += x[r * S + s];
        acc = block_reduce(acc);
        if (threadIdx.x == 0) y[r] = acc.a / (float)S;
    }
}

KERNEL average_pool_backward(In<float> dy, i64 rows, i64 S, Out<float> dx) {
    GRID_STRIDE(i, rows * S) dx[i] = dy[i / S] / (float)S;
}

// One thread per sample b: loss[b] = log Σ exp(z) − z[label], dz = (softmax − onehot)/B.
KERNEL softmax_cross_entropy(In<float> logits, In<float> labels, int B, int K, Out<float> loss, Out<float> dlogits) {
    GRID_STRIDE(b, (i64)B) {
        auto z = logits + b * K;
        auto dz = dlogits + b * K;
        float max = -INFINITY;
        for (int k = 0; k < K; k++) max = fmaxf(max, z[k]);
        float sum = 0.f;
        for (int k = 0; k < K; k++) {
            dz[k] = expf(z[k] - max);
            sum += dz[k];
        }
        int label = (int)labels[b];
        loss[b] = logf(sum) + max - z[label];
        for (int k = 0; k < K; k++) dz[k] = (dz[k] / sum - (k == label ? 1.f : 0.f)) / (float)B;
    }
}

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
// transposed) with row length lda, B likewise with ldb. A 256-thread block computes a 16x16 tile.
#define TILE 16
KERNEL gemm_fallback(int transA, int transB, int m, int n, int k, float alpha, In<float> A, int lda, In<float> B,
                     int ldb, float beta, Out<float> C) {
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
                row < m && ka < k ? (transA ? A[(i64)ka * lda + row] : A[(i64)row * lda + ka]) : 0.f;
            Bs[ty * (TILE + 1) + tx] =
                kb < k && col < n ? (transB ? B[(i64)col * ldb + kb] : B[(i64)kb * ldb + col]) : 0.f;
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
