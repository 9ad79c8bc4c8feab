// stats.cu: deterministic two-stage reductions over groups of strided segments.
//
// A group is `count` segments of `length` contiguous values, segment k of group g starting at
// g·groupStride + k·segStride: a row (count 1), a BatchNorm channel (N segments of S values, C·S
// apart), an (n, c) instance (count 1, length S).
//
// Stage 1 splits each group's count·length values into `chunks` chunks of whole units (unit =
// length, or 1 to cut inside a single long segment). One block per (group, chunk) reads its chunk
// once, coalesced along each segment, and writes one partial. For short segments (BatchNorm with a
// small spatial size, such as [N, C] inputs) the column kernels read instead with one thread per
// channel, neighbouring threads on neighbouring channels. Stage 2 merges each group's partials in
// chunk order, with exact 64-bit counts. Fixed chunking and merge order: bitwise reproducible.
//
// Welford partials hold (mean, M2); sum partials hold (Σ dy, Σ dy·(x − center)), the center being
// the group's mean so that large offsets cancel before the products are summed.
#include "common.cuh"

extern "C" __global__ void segments_welford_partial(const float* __restrict__ x, i64 groups, i64 groupStride,
                                                    i64 count, i64 length, i64 segStride, i64 unit, i64 chunks,
                                                    float2* __restrict__ partials) {
    i64 units = count * length / unit;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        i64 end = chunk_begin(k + 1, chunks, units, unit);
        Welford acc = welford_empty();
        for (i64 pos = chunk_begin(k, chunks, units, unit); pos < end;) {
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
    for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < C * chunks; t += (i64)gridDim.x * blockDim.x) {
        i64 c = t % C;
        i64 k = t / C;
        Welford acc = welford_empty();
        for (i64 n = k * N / chunks; n < (k + 1) * N / chunks; n++) {
            const float* p = x + (n * C + c) * S;
            for (i64 s = 0; s < S; s++) welford_push(acc, p[s]);
        }
        partials[c * chunks + k] = make_float2(acc.mean, acc.m2);
    }
}

// One thread per group merges its chunks. Writes any of: mean, biased variance, rstd (of the
// variance, or for RMS rows of the mean square var + mean²); updates running statistics with
// the unbiased variance when running_mean is given.
extern "C" __global__ void welford_finalize(const float2* __restrict__ partials, i64 groups, i64 chunks, i64 units,
                                           i64 unit, float eps, int rms, float* mean_out, float* var_out,
                                           float* rstd_out, float* running_mean, float* running_var, float factor) {
    for (i64 g = (i64)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += (i64)gridDim.x * blockDim.x) {
        float mean = 0.f;
        float m2 = 0.f;
        i64 n = 0;
        for (i64 k = 0; k < chunks; k++) {
            i64 nb = chunk_begin(k + 1, chunks, units, unit) - chunk_begin(k, chunks, units, unit);
            if (nb == 0) continue;
            float2 p = partials[g * chunks + k];
            if (n == 0) {
                mean = p.x;
                m2 = p.y;
                n = nb;
                continue;
            }
            i64 total = n + nb;
            float fb = (float)nb / (float)total;
            float d = p.x - mean;
            mean += d * fb;
            m2 += p.y + d * d * (float)n * fb;
            n = total;
        }
        float var = m2 / (float)n;
        if (mean_out) mean_out[g] = mean;
        if (var_out) var_out[g] = var;
        if (rstd_out) rstd_out[g] = rsqrtf((rms ? var + mean * mean : var) + eps);
        if (running_mean) {
            running_mean[g] = (1.f - factor) * running_mean[g] + factor * mean;
            running_var[g] = (1.f - factor) * running_var[g] + factor * var * ((float)n / (float)(n - 1));
        }
    }
}

extern "C" __global__ void segments_sums_partial(const float* __restrict__ x, const float* __restrict__ dy,
                                                 const float* __restrict__ center, i64 centerDivisor, i64 groups,
                                                 i64 groupStride, i64 count, i64 length, i64 segStride, i64 unit,
                                                 i64 chunks, float2* __restrict__ partials) {
    i64 units = count * length / unit;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        float m = center[g / centerDivisor];
        i64 end = chunk_begin(k + 1, chunks, units, unit);
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 pos = chunk_begin(k, chunks, units, unit); pos < end;) {
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
    for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < C * chunks; t += (i64)gridDim.x * blockDim.x) {
        i64 c = t % C;
        i64 k = t / C;
        float m = center[c];
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 n = k * N / chunks; n < (k + 1) * N / chunks; n++) {
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
    for (i64 g = (i64)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += (i64)gridDim.x * blockDim.x) {
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
