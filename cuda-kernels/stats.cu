// stats.cu: deterministic two-stage reductions over groups of strided segments.
//
// A group is `count` segments of `length` contiguous values, segment k of group g starting at
// g·groupStride + k·segStride: a row (count 1), a BatchNorm channel (N segments of S values, C·S
// apart), an (n, c) instance (count 1, length S).
//
// Stage 1 splits each group's count·length values into `chunks` equal chunks (cut anywhere, even
// inside a segment). One block per (group, chunk) reads its chunk once, coalesced along each
// segment, and writes one partial. For short segments (BatchNorm with a small spatial size, such
// as [N, C] inputs) the column kernels read instead with one thread per channel, neighbouring
// threads on neighbouring channels, their chunks cut on whole n. Stage 2 merges each group's
// partials in chunk order, with exact 64-bit counts (the same chunk_begin split as stage 1).
// Fixed chunking and merge order: bitwise reproducible.
//
// Welford partials hold (mean, M2); sum partials hold (Σ dy, Σ dy·(x − center)), the center being
// the group's mean so that large offsets cancel before the products are summed.
#include "common.cuh"

extern "C" __global__ void segments_welford_partial(const float* __restrict__ x, i64 groups, i64 groupStride,
                                                    i64 count, i64 length, i64 segStride, i64 chunks,
                                                    float2* __restrict__ partials) {
    i64 values = count * length;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        i64 end = chunk_begin(k + 1, chunks, values, 1);
        Welford acc = welford_empty();
        for (i64 pos = chunk_begin(k, chunks, values, 1); pos < end;) {
            i64 seg = pos / length;
            i64 stop = end < (seg + 1) * length ? end : (seg + 1) * length;
            i64 base = g * groupStride + seg * segStride - seg * length;
            for (i64 j = pos + threadIdx.x; j < stop; j += blockDim.x) welford_push(acc, x[base + j]);
            pos = stop;
        }
        acc = block_reduce(acc);
        if (threadIdx.x == 0) partials[item] = make_float2(acc.mean, acc.m2);
    }
}

// [N, C, S] with small S: thread (c, chunk) walks n in its chunk. Partials are laid out as the
// segments kernel's: group c, chunk k at c·chunks + k, chunks cut on whole n (unit S).
extern "C" __global__ void columns_welford_partial(const float* __restrict__ x, i64 N, i64 C, i64 S, i64 chunks,
                                                   float2* __restrict__ partials) {
    GRID_STRIDE(t, C * chunks) {
        i64 c = t % C;
        i64 k = t / C;
        Welford acc = welford_empty();
        for (i64 n = chunk_begin(k, chunks, N, 1); n < chunk_begin(k + 1, chunks, N, 1); n++) {
            const float* p = x + (n * C + c) * S;
            for (i64 s = 0; s < S; s++) welford_push(acc, p[s]);
        }
        partials[c * chunks + k] = make_float2(acc.mean, acc.m2);
    }
}

// One thread per group merges its chunks (`units` units of `unit` values, as stage 1 cut them).
// Writes any of: mean (0 for RMS rows, which are not centered), biased variance, rstd (of the
// variance, or for RMS rows of the mean square var + mean²); updates running statistics with the
// unbiased variance when running_mean is given.
extern "C" __global__ void welford_finalize(const float2* __restrict__ partials, i64 groups, i64 chunks, i64 units,
                                           i64 unit, float eps, int rms, float* mean_out, float* var_out,
                                           float* rstd_out, float* running_mean, float* running_var, float factor) {
    GRID_STRIDE(g, groups) {
        float mean = 0.f;
        float m2 = 0.f;
        i64 n = 0;
        for (i64 k = 0; k < chunks; k++) {
            float2 p = partials[g * chunks + k];
            chan_merge(mean, m2, n, p.x, p.y,
                       chunk_begin(k + 1, chunks, units, unit) - chunk_begin(k, chunks, units, unit));
        }
        float var = m2 / (float)n;
        if (mean_out) mean_out[g] = rms ? 0.f : mean;
        if (var_out) var_out[g] = var;
        if (rstd_out) rstd_out[g] = rsqrtf((rms ? var + mean * mean : var) + eps);
        if (running_mean) running_blend(running_mean, running_var, g, mean, var * ((float)n / (float)(n - 1)), factor);
    }
}

extern "C" __global__ void segments_sums_partial(const float* __restrict__ x, const float* __restrict__ dy,
                                                 const float* __restrict__ center, i64 centerDivisor, i64 groups,
                                                 i64 groupStride, i64 count, i64 length, i64 segStride, i64 chunks,
                                                 float2* __restrict__ partials) {
    i64 values = count * length;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        float m = center[g / centerDivisor];
        i64 end = chunk_begin(k + 1, chunks, values, 1);
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 pos = chunk_begin(k, chunks, values, 1); pos < end;) {
            i64 seg = pos / length;
            i64 stop = end < (seg + 1) * length ? end : (seg + 1) * length;
            i64 base = g * groupStride + seg * segStride - seg * length;
            for (i64 j = pos + threadIdx.x; j < stop; j += blockDim.x) {
                float d = dy[base + j];
                acc.a += d;
                acc.b += d * (x[base + j] - m);
            }
            pos = stop;
        }
        acc = block_reduce(acc);
        if (threadIdx.x == 0) partials[item] = make_float2(acc.a, acc.b);
    }
}

extern "C" __global__ void columns_sums_partial(const float* __restrict__ x, const float* __restrict__ dy,
                                                const float* __restrict__ center, i64 N, i64 C, i64 S, i64 chunks,
                                                float2* __restrict__ partials) {
    GRID_STRIDE(t, C * chunks) {
        i64 c = t % C;
        i64 k = t / C;
        float m = center[c];
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 n = chunk_begin(k, chunks, N, 1); n < chunk_begin(k + 1, chunks, N, 1); n++) {
            i64 base = (n * C + c) * S;
            for (i64 s = 0; s < S; s++) {
                float d = dy[base + s];
                acc.a += d;
                acc.b += d * (x[base + s] - m);
            }
        }
        partials[c * chunks + k] = make_float2(acc.a, acc.b);
    }
}

// One thread per group adds its chunks in order; `accumulate` adds the totals into the outputs
// (parameter gradients) instead of overwriting them.
extern "C" __global__ void sums_finalize(const float2* __restrict__ partials, i64 groups, i64 chunks, float* out_a,
                                         float* out_b, int accumulate) {
    GRID_STRIDE(g, groups) {
        float a = 0.f;
        float b = 0.f;
        for (i64 k = 0; k < chunks; k++) {
            float2 p = partials[g * chunks + k];
            a += p.x;
            b += p.y;
        }
        if (out_a) out_a[g] = accumulate ? out_a[g] + a : a;
        if (out_b) out_b[g] = accumulate ? out_b[g] + b : b;
    }
}
