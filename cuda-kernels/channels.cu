// channels.cu: the channels family (BatchNorm) and the per-(n, c) machinery that InstanceNorm and
// GroupNorm backward, Batch-Instance and Switchable share, on an [N, C, S] tensor.
//
// Every norm here ends in one elementwise pass with per-row coefficients, q = (n, c) or q = c:
//   forward   nc_apply           y  = A_q·(x − M_q) + D_q   (M may be null: 0)
//   backward  nc_apply_backward  dx = A_q·dy + B_q·(x − M_q) + D_q
// Centering on M (the mean the statistics were taken about) keeps large offsets from cancelling.
// The coefficients come from small kernels over the statistics (one thread per channel or per (n,
// c), looping over the other index in a fixed order): channel_coefficients for BatchNorm (batch
// statistics, or running ones folded into a scale and centered shift in eval),
// channel_backward_coefficients for BatchNorm (and Batch Renormalization's, given its r and d),
// renorm_coefficients for Batch Renormalization's forward, mean_only_bias_grad for mean-only
// BatchNorm, group_backward_coefficients for InstanceNorm and GroupNorm groups too large for
// rows.cu's fused backward (from per-(n, c) sums Σ dy and Σ dy·(x − mean) made by stats.cu),
// nc_param_grads for their weight and bias gradients (from those sums, or from the fused kernel's).
// The statistics themselves come from stats.cu.
// Elementwise passes: 1 read (forward) or 2 reads (backward) and 1 write per element; _vec
// variants move float4 when S is a multiple of 4 and the pointers are 16-byte aligned, BATCH of
// them per thread in flight.
#include "common.cuh"

// The rows of the coefficients and of the center for the element a cursor is at: per channel,
// c = (i / S) % C for both; per sample, q = i / S and q / centerDivisor. The cursor's modulus is C
// or centerDivisor accordingly, so no element divides.
struct NcRows {
    i64 coefficient;
    i64 center;
};

__device__ __forceinline__ RowCursor nc_cursor(i64 S, i64 C, i64 centerDivisor, int perSample) {
    return RowCursor(grid_first(), grid_threads(), S, perSample ? centerDivisor : C);
}

__device__ __forceinline__ NcRows nc_rows(const RowCursor& k, int perSample) {
    return perSample ? NcRows{k.row(), k.hi} : NcRows{k.lo, k.lo};
}

// Each thread's cursor follows the indices it visits, i0 + u·stride, from its first; the scalar
// passes step one element at a time, the _vec ones a float4 (S a multiple of 4: the cursor counts
// float4s, S/4 to a row; or, per channel, S = 1 with C a multiple of 4: a float4 is four channels
// of one row, and the cursor counts them in fours). At 64 registers (STREAMING_KERNEL) all but nc_apply_backward_vec,
// whose 32 values in flight would spill there, keep 32 warps per SM.
template <class Storage>
__device__ __forceinline__ void nc_apply_body(In<Storage> x, Out<Storage> y, In<float> A, In<float> M,
                                              i64 centerDivisor, In<float> D, i64 N, i64 C, i64 S, int perSample) {
    i64 total = N * C * S;
    RowCursor k = nc_cursor(S, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total) {
        float v[BATCH];
        load_strided(x, i0, stride, total, v);
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total) break;
            NcRows q = nc_rows(k, perSample);
            y[i] = from_float<Storage>(A[q.coefficient] * (v[u] - param_or(M, q.center, 0.f)) +
                                       param_or(D, q.coefficient, 0.f));
        }
    }
}

// The scalar passes over each storage type (float32, float16, bfloat16); the _vec ones are float32's.
#define NC_APPLY_ENTRY(name, STORAGE)                                                                              \
    STREAMING_KERNEL name(In<STORAGE> x, Out<STORAGE> y, In<float> A, In<float> M, i64 centerDivisor, In<float> D, \
                          i64 N, i64 C, i64 S, int perSample) {                                                    \
        nc_apply_body<STORAGE>(x, y, A, M, centerDivisor, D, N, C, S, perSample);                                  \
    }
NC_APPLY_ENTRY(nc_apply, float)
NC_APPLY_ENTRY(nc_apply_f16, Half)
NC_APPLY_ENTRY(nc_apply_bf16, BFloat16)

// 16-bit storage, 16 bytes at a time: a pack of 8 values, as the float4 variant takes 4 (S a multiple
// of 8, or S = 1 with C a multiple of 8: a pack is eight channels of one row).
template <class Storage>
__device__ __forceinline__ void nc_apply_pack_body(In<Storage> x, Out<Storage> y, In<float> A, In<float> M,
                                                   i64 centerDivisor, In<float> D, i64 N, i64 C, i64 S, int perSample) {
    i64 total8 = N * C * S / 8;
    RowCursor k = S == 1 ? nc_cursor(1, C / 8, centerDivisor, 0) : nc_cursor(S / 8, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total8) {
        uint4 v[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            if (i0 + u * stride < total8) v[u] = load16(x, 8 * (i0 + u * stride));
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total8) break;
            NcRows q = nc_rows(k, perSample);
            float f[8];
            unpack8<Storage>(v[u], f);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                i64 c = S == 1 ? 8 * q.coefficient + e : q.coefficient;  // eight channels, or one row's
                i64 m = S == 1 ? c : q.center;
                f[e] = A[c] * (f[e] - param_or(M, m, 0.f)) + param_or(D, c, 0.f);
            }
            store16(y, 8 * i, pack8<Storage>(f));
        }
    }
}

#define NC_APPLY_PACK_ENTRY(name, STORAGE)                                                                             \
    KERNEL name(In<STORAGE> x, Out<STORAGE> y, In<float> A, In<float> M, i64 centerDivisor, In<float> D, i64 N, i64 C, \
                i64 S, int perSample) {                                                                                \
        nc_apply_pack_body<STORAGE>(x, y, A, M, centerDivisor, D, N, C, S, perSample);                                 \
    }
NC_APPLY_PACK_ENTRY(nc_apply_pack_f16, Half)
NC_APPLY_PACK_ENTRY(nc_apply_pack_bf16, BFloat16)

STREAMING_KERNEL nc_apply_vec(In<float> x, Out<float> y, In<float> A, In<float> M, i64 centerDivisor, In<float> D,
                              i64 N, i64 C, i64 S, int perSample) {
    i64 total4 = N * C * S / 4;
    RowCursor k = S == 1 ? nc_cursor(1, C / 4, centerDivisor, 0) : nc_cursor(S / 4, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total4) {
        float4 v[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            if (i0 + u * stride < total4) v[u] = load4(x, 4 * (i0 + u * stride));
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total4) break;
            NcRows q = nc_rows(k, perSample);
            if (S == 1) {  // four channels, 4·lo to 4·lo + 3
                i64 c = 4 * q.coefficient;
                store4(y, 4 * i,
                       make_float4(A[c] * (v[u].x - param_or(M, c, 0.f)) + param_or(D, c, 0.f),
                                   A[c + 1] * (v[u].y - param_or(M, c + 1, 0.f)) + param_or(D, c + 1, 0.f),
                                   A[c + 2] * (v[u].z - param_or(M, c + 2, 0.f)) + param_or(D, c + 2, 0.f),
                                   A[c + 3] * (v[u].w - param_or(M, c + 3, 0.f)) + param_or(D, c + 3, 0.f)));
                continue;
            }
            float a = A[q.coefficient];
            float m = param_or(M, q.center, 0.f);
            float d = param_or(D, q.coefficient, 0.f);
            store4(y, 4 * i,
                   make_float4(a * (v[u].x - m) + d, a * (v[u].y - m) + d, a * (v[u].z - m) + d, a * (v[u].w - m) + d));
        }
    }
}

template <class Storage>
__device__ __forceinline__ void nc_apply_backward_body(In<Storage> dy, In<Storage> x, In<float> A, In<float> B,
                                                       In<float> M, i64 centerDivisor, In<float> D, Out<Storage> dx,
                                                       i64 N, i64 C, i64 S, int perSample) {
    i64 total = N * C * S;
    RowCursor k = nc_cursor(S, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total) {
        float g[BATCH];
        float v[BATCH];
        load_strided(dy, i0, stride, total, g);
        load_strided(x, i0, stride, total, v);
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total) break;
            NcRows q = nc_rows(k, perSample);
            dx[i] = from_float<Storage>(A[q.coefficient] * g[u] + B[q.coefficient] * (v[u] - M[q.center]) +
                                        D[q.coefficient]);
        }
    }
}

#define NC_APPLY_BACKWARD_ENTRY(name, STORAGE)                                                                     \
    STREAMING_KERNEL name(In<STORAGE> dy, In<STORAGE> x, In<float> A, In<float> B, In<float> M, i64 centerDivisor, \
                          In<float> D, Out<STORAGE> dx, i64 N, i64 C, i64 S, int perSample) {                      \
        nc_apply_backward_body<STORAGE>(dy, x, A, B, M, centerDivisor, D, dx, N, C, S, perSample);                 \
    }
NC_APPLY_BACKWARD_ENTRY(nc_apply_backward, float)
NC_APPLY_BACKWARD_ENTRY(nc_apply_backward_f16, Half)
NC_APPLY_BACKWARD_ENTRY(nc_apply_backward_bf16, BFloat16)

template <class Storage>
__device__ __forceinline__ void nc_apply_backward_pack_body(In<Storage> dy, In<Storage> x, In<float> A, In<float> B,
                                                            In<float> M, i64 centerDivisor, In<float> D,
                                                            Out<Storage> dx, i64 N, i64 C, i64 S, int perSample) {
    i64 total8 = N * C * S / 8;
    RowCursor k = S == 1 ? nc_cursor(1, C / 8, centerDivisor, 0) : nc_cursor(S / 8, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total8) {
        uint4 g[BATCH];
        uint4 v[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            if (i0 + u * stride < total8) {
                g[u] = load16(dy, 8 * (i0 + u * stride));
                v[u] = load16(x, 8 * (i0 + u * stride));
            }
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total8) break;
            NcRows q = nc_rows(k, perSample);
            float fg[8];
            float fv[8];
            unpack8<Storage>(g[u], fg);
            unpack8<Storage>(v[u], fv);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                i64 c = S == 1 ? 8 * q.coefficient + e : q.coefficient;
                i64 m = S == 1 ? c : q.center;
                fg[e] = A[c] * fg[e] + B[c] * (fv[e] - M[m]) + D[c];
            }
            store16(dx, 8 * i, pack8<Storage>(fg));
        }
    }
}

#define NC_APPLY_BACKWARD_PACK_ENTRY(name, STORAGE)                                                                   \
    KERNEL name(In<STORAGE> dy, In<STORAGE> x, In<float> A, In<float> B, In<float> M, i64 centerDivisor, In<float> D, \
                Out<STORAGE> dx, i64 N, i64 C, i64 S, int perSample) {                                                \
        nc_apply_backward_pack_body<STORAGE>(dy, x, A, B, M, centerDivisor, D, dx, N, C, S, perSample);               \
    }
NC_APPLY_BACKWARD_PACK_ENTRY(nc_apply_backward_pack_f16, Half)
NC_APPLY_BACKWARD_PACK_ENTRY(nc_apply_backward_pack_bf16, BFloat16)

KERNEL nc_apply_backward_vec(In<float> dy, In<float> x, In<float> A, In<float> B, In<float> M, i64 centerDivisor,
                             In<float> D, Out<float> dx, i64 N, i64 C, i64 S, int perSample) {
    i64 total4 = N * C * S / 4;
    RowCursor k = S == 1 ? nc_cursor(1, C / 4, centerDivisor, 0) : nc_cursor(S / 4, C, centerDivisor, perSample);
    GRID_STRIDE_BATCH(i0, stride, total4) {
        float4 g[BATCH];
        float4 v[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            if (i0 + u * stride < total4) {
                g[u] = load4(dy, 4 * (i0 + u * stride));
                v[u] = load4(x, 4 * (i0 + u * stride));
            }
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++, k.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total4) break;
            NcRows q = nc_rows(k, perSample);
            if (S == 1) {  // four channels, 4·lo to 4·lo + 3
                i64 c = 4 * q.coefficient;
                store4(dx, 4 * i,
                       make_float4(A[c] * g[u].x + B[c] * (v[u].x - M[c]) + D[c],
                                   A[c + 1] * g[u].y + B[c + 1] * (v[u].y - M[c + 1]) + D[c + 1],
                                   A[c + 2] * g[u].z + B[c + 2] * (v[u].z - M[c + 2]) + D[c + 2],
                                   A[c + 3] * g[u].w + B[c + 3] * (v[u].w - M[c + 3]) + D[c + 3]));
                continue;
            }
            float a = A[q.coefficient];
            float b = B[q.coefficient];
            float m = M[q.center];
            float d = D[q.coefficient];
            store4(dx, 4 * i,
                   make_float4(a * g[u].x + b * (v[u].x - m) + d, a * g[u].y + b * (v[u].y - m) + d,
                               a * g[u].z + b * (v[u].z - m) + d, a * g[u].w + b * (v[u].w - m) + d));
        }
    }
}

// BatchNorm forward: A = rstd·w, D = b per channel, centered on the mean (when A is given). With
// running statistics given, first sets mean = running_mean and rstd = 1/sqrt(running_var + eps).
KERNEL channel_coefficients(Out<float> mean, Out<float> rstd, In<float> running_mean, In<float> running_var, float eps,
                            In<float> w, In<float> b, i64 C, Out<float> A, Out<float> D) {
    GRID_STRIDE(c, C) {
        if (running_mean) {
            mean[c] = running_mean[c];
            rstd[c] = rsqrtf(running_var[c] + eps);
        }
        if (A) {
            A[c] = rstd[c] * param_or(w, c, 1.f);
            D[c] = param_or(b, c, 0.f);
        }
    }
}

// Mean-only BatchNorm (y = x − mean + b): its bias gradient adds Σ dy = mean(dy)·count per channel
// (the mean taken by stats.cu over the `count` = N·S values; dx = dy − mean(dy) is nc_apply's).
KERNEL mean_only_bias_grad(In<float> mean_dy, i64 C, i64 count, Out<float> grad_b) {
    GRID_STRIDE(c, C) grad_b[c] += mean_dy[c] * (float)count;
}

// BatchNorm backward from per-channel Σ dy and Σ dy·(x − mean) over `count` = N·S values:
// dx = A·dy + B·(x − mean) + D; with batch statistics B and D carry the gradient through them.
// Batch Renormalization (y = w·(r·x̂ + d) + b, r and d constants) passes its r and d: the gradient
// is BatchNorm's with the weight w·r, and grad_w takes Σ dy·(r·x̂ + d). Without them r = 1, d = 0.
KERNEL channel_backward_coefficients(In<float> sum_dy, In<float> sum_dy_x, In<float> rstd, In<float> w,
                                     In<float> renorm_r, In<float> renorm_d, i64 C, i64 count, int batch, Out<float> A,
                                     Out<float> B, Out<float> D, Out<float> grad_w, Out<float> grad_b) {
    GRID_STRIDE(c, C) {
        float r = rstd[c];
        float scale = param_or(renorm_r, c, 1.f);
        float wc = param_or(w, c, 1.f) * scale;
        A[c] = r * wc;
        B[c] = batch ? -r * r * r * wc * sum_dy_x[c] / (float)count : 0.f;
        D[c] = batch ? -r * wc * sum_dy[c] / (float)count : 0.f;
        if (grad_w) grad_w[c] += scale * r * sum_dy_x[c] + param_or(renorm_d, c, 0.f) * sum_dy[c];
        if (grad_b) grad_b[c] += sum_dy[c];
    }
}

// x clipped to [lo, hi]; NaN stays NaN (fminf/fmaxf would drop it).
__device__ __forceinline__ float clip(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// Batch Renormalization forward (Ioffe, 2017), after stats.cu's batch mean, biased variance and
// rstd, with σ = sqrt(running_var + eps) the running statistics' deviation:
//   r = clip(sqrt(var + eps)/σ, 1/rmax, rmax), d = clip((mean − running_mean)/σ, −dmax, dmax),
//   y = w·(r·(x − mean)·rstd + d) + b, so A = rstd·r·w and D = w·d + b about the mean;
// r and d are saved for the backward, which treats them as constants. Then the running statistics
// take the batch's (the unbiased variance over `count` values), as BatchNorm's do.
KERNEL renorm_coefficients(In<float> mean, In<float> var, In<float> rstd, Out<float> running_mean,
                           Out<float> running_var, float eps, float rmax, float dmax, In<float> w, In<float> b, i64 C,
                           i64 count, float factor, Out<float> r_out, Out<float> d_out, Out<float> A, Out<float> D) {
    GRID_STRIDE(c, C) {
        float sigma = sqrtf(running_var[c] + eps);
        float r = clip(sqrtf(var[c] + eps) / sigma, 1.f / rmax, rmax);
        float d = clip((mean[c] - running_mean[c]) / sigma, -dmax, dmax);
        r_out[c] = r;
        d_out[c] = d;
        float wc = param_or(w, c, 1.f);
        A[c] = rstd[c] * r * wc;
        D[c] = wc * d + param_or(b, c, 0.f);
        running_blend(running_mean, running_var, c, mean[c], var[c] * ((float)count / (float)(count - 1)), factor);
    }
}

// InstanceNorm (G = C) and GroupNorm backward, one thread per (n, g), from per-(n, c) sums centered
// on the group mean: with g = w·dy over the group's L = (C/G)·S values,
// dx = rstd·w_c·dy − rstd³·Σ(g·(x − mean))/L·(x − mean) − rstd·Σg/L.
KERNEL group_backward_coefficients(In<float> sum_dy, In<float> sum_dy_x, In<float> rstd, In<float> w, i64 N, i64 C,
                                   i64 G, i64 S, Out<float> A, Out<float> B, Out<float> D) {
    i64 cpg = C / G;
    GRID_STRIDE(ng, N * G) {
        i64 first = (ng / G) * C + (ng % G) * cpg;
        float sg = 0.f;
        float sgx = 0.f;
        for (i64 k = 0; k < cpg; k++) {
            float wc = param_or(w, (first + k) % C, 1.f);
            sg += wc * sum_dy[first + k];
            sgx += wc * sum_dy_x[first + k];
        }
        float r = rstd[ng];
        float count = (float)(cpg * S);
        float b = -r * r * r * sgx / count;
        float d = -r * sg / count;
        for (i64 k = 0; k < cpg; k++) {
            A[first + k] = r * param_or(w, (first + k) % C, 1.f);
            B[first + k] = b;
            D[first + k] = d;
        }
    }
}

// Weight and bias gradients from per-(n, c) sums: grad_w += Σ_n rstd·Σ dy·(x − mean),
// grad_b += Σ_n Σ dy, rstd indexed by (n·C + c)/rstdDivisor (the group of (n, c)).
KERNEL nc_param_grads(In<float> sum_dy, In<float> sum_dy_x, In<float> rstd, i64 rstdDivisor, i64 N, i64 C,
                      Out<float> grad_w, Out<float> grad_b) {
    GRID_STRIDE(c, C) {
        float gw = 0.f;
        float gb = 0.f;
        for (i64 n = 0; n < N; n++) {
            i64 q = n * C + c;
            gw += rstd[q / rstdDivisor] * sum_dy_x[q];
            gb += sum_dy[q];
        }
        if (grad_w) grad_w[c] += gw;
        if (grad_b) grad_b[c] += gb;
    }
}

// InstanceNorm's running statistics: the per-(n, c) mean and unbiased variance averaged over n.
KERNEL instance_running_update(In<float> mean, In<float> var, i64 N, i64 C, i64 S, float factor,
                               Out<float> running_mean, Out<float> running_var) {
    GRID_STRIDE(c, C) {
        float m = 0.f;
        float v = 0.f;
        for (i64 n = 0; n < N; n++) {
            m += mean[n * C + c];
            v += var[n * C + c];
        }
        running_blend(running_mean, running_var, c, m / (float)N, v / (float)N * ((float)S / (float)(S - 1)), factor);
    }
}
