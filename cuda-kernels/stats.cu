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
// threads on neighbouring channels, their chunks cut on whole n. The host keeps each thread's
// share of a chunk to a few hundred values.
//
// Stage 2 merges each group's partials in a fixed tree, never in one long chain: a GPU with 132 SMs
// cuts a BatchNorm channel of [2^22, 2] into ~10^5 chunks, and merging those one after another in
// fp32 loses about 1e-4 of the variance. A warp merges up to MERGE_FAN_IN consecutive partials:
// each lane merges its MERGE_PER_LANE in order, then the lanes merge in a butterfly. While a group
// has more than MERGE_FAN_IN partials, the *_merge_partials kernels (one warp per run of
// MERGE_FAN_IN) leave one partial per run; the *_finalize kernels (one warp per group) merge the
// rest and write the results. Counts are exact 64-bit integers, recomputed from the same
// chunk_begin split as stage 1. Fixed chunking and merge order: bitwise reproducible.
//
// Welford partials hold (mean, M2); sum partials hold (Σ dy, Σ dy·(x − center)), the center being
// the group's mean so that large offsets cancel before the products are summed.
#include "common.cuh"

template <class Storage>
__device__ __forceinline__ void segments_welford_partial_body(In<Storage> x, i64 groups, i64 groupStride, i64 count,
                                                              i64 length, i64 segStride, i64 chunks,
                                                              Out<float2> partials) {
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
            for (i64 j0 = pos + threadIdx.x; j0 < stop; j0 += WELFORD_BATCH * blockDim.x) {
                float v[WELFORD_BATCH];
                int n = load_strided(x + base, j0, blockDim.x, stop, v);
                acc = welford_merge(acc, welford_of(v, n));
            }
            pos = stop;
        }
        acc = block_reduce(acc);
        if (threadIdx.x == 0) partials[item] = make_float2(acc.mean, acc.m2);
    }
}

#define SEGMENTS_WELFORD_PARTIAL_ENTRY(name, STORAGE)                                                               \
    KERNEL name(In<STORAGE> x, i64 groups, i64 groupStride, i64 count, i64 length, i64 segStride, i64 chunks,       \
                Out<float2> partials) {                                                                             \
        segments_welford_partial_body<STORAGE>(x, groups, groupStride, count, length, segStride, chunks, partials); \
    }
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial, float)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_f16, Half)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_bf16, BFloat16)

// [N, C, S] with small S: thread (c, chunk) walks n in its chunk. Partials are laid out as the
// segments kernel's: group c, chunk k at c·chunks + k, chunks cut on whole n (unit S).
// Channel c's values in rows [n0, n1) of [N, C, S], in order, WELFORD_BATCH loaded at a time (x's
// into v, and dy's into d where dy is given): across n when S = 1 (2-D input, stride C), else along
// each n's S values (S is small here). visit(v, d, count) takes each batch.
template <class Storage, class Visit>
__device__ __forceinline__ void column_batches(In<Storage> x, In<Storage> dy, i64 n0, i64 n1, i64 C, i64 S, i64 c,
                                               Visit visit) {
    for (i64 n = n0; n < n1; n += S == 1 ? WELFORD_BATCH : 1) {
        i64 at = (n * C + c) * S;
        for (i64 s0 = 0; s0 < S; s0 += WELFORD_BATCH) {
            float v[WELFORD_BATCH];
            float d[WELFORD_BATCH];
            i64 start = S == 1 ? 0 : s0;
            i64 step = S == 1 ? C : 1;
            i64 stop = S == 1 ? (n1 - n) * C : S;
            int count = load_strided(x + at, start, step, stop, v);
            if (dy) load_strided(dy + at, start, step, stop, d);
            visit(v, d, count);
        }
    }
}

template <class Storage>
__device__ __forceinline__ void columns_welford_partial_body(In<Storage> x, i64 N, i64 C, i64 S, i64 chunks,
                                                             Out<float2> partials) {
    GRID_STRIDE(t, C * chunks) {
        i64 c = t % C;
        i64 k = t / C;
        Welford acc = welford_empty();
        column_batches(x, In<Storage>(), chunk_begin(k, chunks, N, 1), chunk_begin(k + 1, chunks, N, 1), C, S, c,
                       [&](const float(&v)[WELFORD_BATCH], const float(&)[WELFORD_BATCH], int count) {
                           acc = welford_merge(acc, welford_of(v, count));
                       });
        partials[c * chunks + k] = make_float2(acc.mean, acc.m2);
    }
}

#define COLUMNS_WELFORD_PARTIAL_ENTRY(name, STORAGE)                                    \
    KERNEL name(In<STORAGE> x, i64 N, i64 C, i64 S, i64 chunks, Out<float2> partials) { \
        columns_welford_partial_body<STORAGE>(x, N, C, S, chunks, partials);            \
    }
COLUMNS_WELFORD_PARTIAL_ENTRY(columns_welford_partial, float)
COLUMNS_WELFORD_PARTIAL_ENTRY(columns_welford_partial_f16, Half)
COLUMNS_WELFORD_PARTIAL_ENTRY(columns_welford_partial_bf16, BFloat16)

template <class Storage>
__device__ __forceinline__ void segments_sums_partial_body(In<Storage> x, In<Storage> dy, In<float> center,
                                                           i64 centerDivisor, i64 groups, i64 groupStride, i64 count,
                                                           i64 length, i64 segStride, i64 chunks,
                                                           Out<float2> partials) {
    i64 values = count * length;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        float m = center[g / centerDivisor];
        i64 end = chunk_begin(k + 1, chunks, values, 1);
        Sum2d acc = sum2d(0, 0);
        for (i64 pos = chunk_begin(k, chunks, values, 1); pos < end;) {
            i64 seg = pos / length;
            i64 stop = end < (seg + 1) * length ? end : (seg + 1) * length;
            i64 base = g * groupStride + seg * segStride - seg * length;
            for (i64 j0 = pos + threadIdx.x; j0 < stop; j0 += WELFORD_BATCH * blockDim.x) {
                float d[WELFORD_BATCH];
                float v[WELFORD_BATCH];
                int n = load_strided(dy + base, j0, blockDim.x, stop, d);
                load_strided(x + base, j0, blockDim.x, stop, v);
#pragma unroll
                for (int u = 0; u < WELFORD_BATCH; u++) {  // the sums in order
                    if (u < n) {
                        acc.a += d[u];
                        acc.b += d[u] * (v[u] - m);
                    }
                }
            }
            pos = stop;
        }
        acc = block_reduce(acc);
        if (threadIdx.x == 0) partials[item] = make_float2((float)acc.a, (float)acc.b);
    }
}

#define SEGMENTS_SUMS_PARTIAL_ENTRY(name, STORAGE)                                                               \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> center, i64 centerDivisor, i64 groups, i64 groupStride, \
                i64 count, i64 length, i64 segStride, i64 chunks, Out<float2> partials) {                        \
        segments_sums_partial_body<STORAGE>(x, dy, center, centerDivisor, groups, groupStride, count, length,    \
                                            segStride, chunks, partials);                                        \
    }
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial, float)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_f16, Half)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_bf16, BFloat16)

template <class Storage>
__device__ __forceinline__ void columns_sums_partial_body(In<Storage> x, In<Storage> dy, In<float> center, i64 N, i64 C,
                                                          i64 S, i64 chunks, Out<float2> partials) {
    GRID_STRIDE(t, C * chunks) {
        i64 c = t % C;
        i64 k = t / C;
        float m = center[c];
        Sum2d acc = sum2d(0, 0);
        column_batches(x, dy, chunk_begin(k, chunks, N, 1), chunk_begin(k + 1, chunks, N, 1), C, S, c,
                       [&](const float(&v)[WELFORD_BATCH], const float(&d)[WELFORD_BATCH], int count) {
                           for (int u = 0; u < count; u++) {  // in order
                               acc.a += d[u];
                               acc.b += d[u] * (v[u] - m);
                           }
                       });
        partials[c * chunks + k] = make_float2((float)acc.a, (float)acc.b);
    }
}

#define COLUMNS_SUMS_PARTIAL_ENTRY(name, STORAGE)                                                 \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> center, i64 N, i64 C, i64 S, i64 chunks, \
                Out<float2> partials) {                                                           \
        columns_sums_partial_body<STORAGE>(x, dy, center, N, C, S, chunks, partials);             \
    }
COLUMNS_SUMS_PARTIAL_ENTRY(columns_sums_partial, float)
COLUMNS_SUMS_PARTIAL_ENTRY(columns_sums_partial_f16, Half)
COLUMNS_SUMS_PARTIAL_ENTRY(columns_sums_partial_bf16, BFloat16)

// S = 1 (a [N, C] input) with C a multiple of 4 and 16-byte aligned rows: thread t takes the four
// channels 4·(t % (C/4)) .. + 3 and chunk k = t / (C/4), loading a float4 from each of COLUMN_ROWS
// rows before folding them in (a warp reads 512 contiguous bytes of each row; 64 B in flight a
// thread, 128 B with dy). Each channel's partial is as the scalar kernel's layout has it.
#define COLUMN_ROWS 4

__device__ __forceinline__ float component(float4 q, int e) {
    return e == 0 ? q.x : e == 1 ? q.y : e == 2 ? q.z : q.w;
}

// Loads row n0 + u's float4 at column 4·c4 for u < COLUMN_ROWS below n1, all before any is used;
// returns how many rows.
__device__ __forceinline__ int load_column_rows(In<float> p, i64 n0, i64 n1, i64 C, i64 c4, float4 (&q)[COLUMN_ROWS]) {
    int rows = 0;
#pragma unroll
    for (int u = 0; u < COLUMN_ROWS; u++) {
        if (n0 + u < n1) {
            q[u] = load4(p, (n0 + u) * C + 4 * c4);
            rows = u + 1;
        }
    }
    return rows;
}

KERNEL columns_welford_partial_vec(In<float> x, i64 N, i64 C, i64 chunks, Out<float2> partials) {
    const i64 C4 = C / 4;
    GRID_STRIDE(t, C4 * chunks) {
        i64 c4 = t % C4;
        i64 k = t / C4;
        Welford acc[4];
#pragma unroll
        for (int e = 0; e < 4; e++) acc[e] = welford_empty();
        i64 n1 = chunk_begin(k + 1, chunks, N, 1);
        for (i64 n0 = chunk_begin(k, chunks, N, 1); n0 < n1; n0 += COLUMN_ROWS) {
            float4 q[COLUMN_ROWS];
            int rows = load_column_rows(x, n0, n1, C, c4, q);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float v[COLUMN_ROWS];
#pragma unroll
                for (int u = 0; u < COLUMN_ROWS; u++) v[u] = component(q[u], e);
                acc[e] = welford_merge(acc[e], welford_of(v, rows));
            }
        }
#pragma unroll
        for (int e = 0; e < 4; e++) partials[(4 * c4 + e) * chunks + k] = make_float2(acc[e].mean, acc[e].m2);
    }
}

KERNEL columns_sums_partial_vec(In<float> x, In<float> dy, In<float> center, i64 N, i64 C, i64 chunks,
                                Out<float2> partials) {
    const i64 C4 = C / 4;
    GRID_STRIDE(t, C4 * chunks) {
        i64 c4 = t % C4;
        i64 k = t / C4;
        Sum2d acc[4];
        float m[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            acc[e] = sum2d(0, 0);
            m[e] = center[4 * c4 + e];
        }
        i64 n1 = chunk_begin(k + 1, chunks, N, 1);
        for (i64 n0 = chunk_begin(k, chunks, N, 1); n0 < n1; n0 += COLUMN_ROWS) {
            float4 q[COLUMN_ROWS];
            float4 g[COLUMN_ROWS];
            int rows = load_column_rows(x, n0, n1, C, c4, q);
            load_column_rows(dy, n0, n1, C, c4, g);
            for (int u = 0; u < rows; u++) {  // in order
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float d = component(g[u], e);
                    acc[e].a += d;
                    acc[e].b += d * (component(q[u], e) - m[e]);
                }
            }
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            partials[(4 * c4 + e) * chunks + k] = make_float2((float)acc[e].a, (float)acc[e].b);
        }
    }
}

// ---------------------------------------------------------------- stage 2: the merge tree

#define MERGE_PER_LANE 16
#define MERGE_FAN_IN (32 * MERGE_PER_LANE)

// The values partial j covers, at a level where each partial stands for `span` consecutive chunks
// of stage 1's `chunks` (over `units` units of `unit` values).
__device__ __forceinline__ i64 span_count(i64 j, i64 span, i64 chunks, i64 units, i64 unit) {
    i64 end = (j + 1) * span < chunks ? (j + 1) * span : chunks;
    return chunk_begin(end, chunks, units, unit) - chunk_begin(j * span, chunks, units, unit);
}

// Partials [lo, hi) of row `row` (of `parts` partials), merged in order by the calling thread.
__device__ __forceinline__ Welford64 merge_run(In<float2> partials, i64 row, i64 parts, i64 lo, i64 hi, i64 span,
                                               i64 chunks, i64 units, i64 unit) {
    Welford64 acc{0.f, 0.f, 0};
    for (i64 j = lo; j < hi; j++) {
        float2 p = partials[row * parts + j];
        acc = welford_merge(acc, Welford64{p.x, p.y, span_count(j, span, chunks, units, unit)});
    }
    return acc;
}

__device__ __forceinline__ Sum2d merge_run(In<float2> partials, i64 row, i64 parts, i64 lo, i64 hi) {
    Sum2d acc = sum2d(0, 0);
    for (i64 j = lo; j < hi; j++) {
        float2 p = partials[row * parts + j];
        acc.a += p.x;
        acc.b += p.y;
    }
    return acc;
}

// The lanes' runs of the calling warp's MERGE_FAN_IN partials from `first`: lane l's the
// MERGE_PER_LANE from first + l·MERGE_PER_LANE, cut at `last`.
__device__ __forceinline__ i64 lane_run_begin(i64 first, i64 last) {
    i64 lo = first + (i64)(threadIdx.x & 31) * MERGE_PER_LANE;
    return lo < last ? lo : last;
}

__device__ __forceinline__ i64 lane_run_end(i64 first, i64 last) {
    i64 hi = first + (i64)((threadIdx.x & 31) + 1) * MERGE_PER_LANE;
    return hi < last ? hi : last;
}

// A group merged by one thread (few partials: at most MERGE_PER_LANE) or by one warp (more).
// `item` is the group; every thread of the loop body has one, and a warp's lanes share theirs.
#define GROUP_STRIDE(item, items, byWarp)                                             \
    for (i64 item = byWarp ? (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5) \
                           : (i64)blockIdx.x * blockDim.x + threadIdx.x;              \
         item < (items); item += byWarp ? (i64)gridDim.x * (blockDim.x >> 5) : (i64)gridDim.x * blockDim.x)

// One warp per item, the same item for all its lanes (so shuffles see the whole warp).
#define WARP_STRIDE(item, items) GROUP_STRIDE(item, items, true)

// One level of the tree: each group's `parts` partials (each standing for `span` chunks) become
// ceil(parts / MERGE_FAN_IN) partials, one warp per output partial.
KERNEL welford_merge_partials(In<float2> partials, i64 groups, i64 parts, i64 span, i64 chunks, i64 units, i64 unit,
                              Out<float2> merged) {
    i64 out = (parts + MERGE_FAN_IN - 1) / MERGE_FAN_IN;
    WARP_STRIDE(item, groups * out) {
        i64 g = item / out;
        i64 first = item % out * MERGE_FAN_IN;
        i64 last = first + MERGE_FAN_IN < parts ? first + MERGE_FAN_IN : parts;
        Welford64 w = warp_reduce(merge_run(partials, g, parts, lane_run_begin(first, last), lane_run_end(first, last),
                                            span, chunks, units, unit));
        if ((threadIdx.x & 31) == 0) merged[item] = make_float2(w.mean, w.m2);
    }
}

KERNEL sums_merge_partials(In<float2> partials, i64 groups, i64 parts, Out<float2> merged) {
    i64 out = (parts + MERGE_FAN_IN - 1) / MERGE_FAN_IN;
    WARP_STRIDE(item, groups * out) {
        i64 g = item / out;
        i64 first = item % out * MERGE_FAN_IN;
        i64 last = first + MERGE_FAN_IN < parts ? first + MERGE_FAN_IN : parts;
        Sum2d s = warp_reduce(merge_run(partials, g, parts, lane_run_begin(first, last), lane_run_end(first, last)));
        if ((threadIdx.x & 31) == 0) merged[item] = make_float2((float)s.a, (float)s.b);
    }
}

// The last level: each group's remaining `parts` (at most MERGE_FAN_IN) partials, merged by a thread
// when there are at most MERGE_PER_LANE, else by a warp (the host sizes the grid to match). Writes
// any of: mean (0 for RMS rows, which are not centered), biased variance, rstd (of the variance, or
// for RMS rows of the mean square var + mean²); updates running statistics with the unbiased
// variance when running_mean is given.
KERNEL welford_finalize(In<float2> partials, i64 groups, i64 parts, i64 span, i64 chunks, i64 units, i64 unit,
                        float eps, int rms, Out<float> mean_out, Out<float> var_out, Out<float> rstd_out,
                        Out<float> running_mean, Out<float> running_var, float factor) {
    bool byWarp = parts > MERGE_PER_LANE;
    GROUP_STRIDE(g, groups, byWarp) {
        Welford64 w = byWarp ? warp_reduce(merge_run(partials, g, parts, lane_run_begin(0, parts),
                                                     lane_run_end(0, parts), span, chunks, units, unit))
                             : merge_run(partials, g, parts, 0, parts, span, chunks, units, unit);
        if (!byWarp || (threadIdx.x & 31) == 0) {
            float var = w.m2 / (float)w.n;
            if (mean_out) mean_out[g] = rms ? 0.f : w.mean;
            if (var_out) var_out[g] = var;
            if (rstd_out) rstd_out[g] = rsqrtf((rms ? var + w.mean * w.mean : var) + eps);
            if (running_mean) {
                running_blend(running_mean, running_var, g, w.mean, var * ((float)w.n / (float)(w.n - 1)), factor);
            }
        }
    }
}

// The last level for sums, as welford_finalize; `accumulate` adds the totals into the outputs
// (parameter gradients) instead of overwriting them.
KERNEL sums_finalize(In<float2> partials, i64 groups, i64 parts, Out<float> out_a, Out<float> out_b, int accumulate) {
    bool byWarp = parts > MERGE_PER_LANE;
    GROUP_STRIDE(g, groups, byWarp) {
        Sum2d s = byWarp ? warp_reduce(merge_run(partials, g, parts, lane_run_begin(0, parts), lane_run_end(0, parts)))
                         : merge_run(partials, g, parts, 0, parts);
        if (!byWarp || (threadIdx.x & 31) == 0) {
            if (out_a) out_a[g] = (float)(accumulate ? out_a[g] + s.a : s.a);
            if (out_b) out_b[g] = (float)(accumulate ? out_b[g] + s.b : s.b);
        }
    }
}

// ---------------------------------------------------------------- across ranks (SyncBatchNorm)
//
// Each rank's per-channel statistics or sums, gathered in rank order by the StatsReducer, are
// combined by one thread per channel looping over the ranks in rank order, in double: bitwise the
// same on every rank, whatever order the ranks arrived in.

// Statistics gathered as [ranks, 1 + 2C] (a rank's count of values per channel, its C means, its C
// biased variances), merged by Chan's formula (a rank of no values adds nothing). Writes the mean
// and rstd of the union, and updates the running statistics (when given) with its unbiased variance
// over all `total` values.
KERNEL rank_welford_merge(In<float> gathered, i64 ranks, i64 C, float eps, i64 total, float factor, Out<float> mean,
                          Out<float> rstd, Out<float> running_mean, Out<float> running_var) {
    i64 width = 1 + 2 * C;
    GRID_STRIDE(c, C) {
        double n = 0.0;
        double m = 0.0;
        double m2 = 0.0;
        for (i64 k = 0; k < ranks; k++) {
            double nk = gathered[k * width];
            if (nk == 0.0) continue;
            double t = n + nk;
            double d = (double)gathered[k * width + 1 + c] - m;
            m += d * nk / t;
            m2 += (double)gathered[k * width + 1 + C + c] * nk + d * d * n * nk / t;
            n = t;
        }
        float var = (float)(m2 / n);
        mean[c] = (float)m;
        rstd[c] = rsqrtf(var + eps);
        if (running_mean) {
            running_blend(running_mean, running_var, c, (float)m, var * ((float)total / (float)(total - 1)), factor);
        }
    }
}

// Σ over the ranks of each of `width` values gathered as [ranks, width] (SyncBatchNorm's backward:
// each rank's Σ dy and Σ dy·(x − mean) per channel).
KERNEL rank_sums(In<float> gathered, i64 ranks, i64 width, Out<float> out) {
    GRID_STRIDE(j, width) {
        double s = 0.0;
        for (i64 k = 0; k < ranks; k++) s += gathered[k * width + j];
        out[j] = (float)s;
    }
}
