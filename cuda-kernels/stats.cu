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

// A thread's values per step of the segment kernels: W = 1, WELFORD_BATCH values a step, one
// element each; W = 8 (16-bit storage, in 16-byte packs: the host passes them only where length,
// both strides and the base are multiples of 8 values, and cuts chunks on packs), BATCH packs a
// step, 64 bytes in flight (128 with dy).
template <int W>
struct SegmentUnits {
    static constexpr int PER_STEP = W == 1 ? WELFORD_BATCH : BATCH;  // units loaded before any is used
    static constexpr int VALUES = PER_STEP * W;
};

// Loads units j0, j0 + step, ... below stop (unit j is the W values from element W·j of p) into v, up
// to PER_STEP of them, all before any is used; returns how many values (a prefix of v).
template <int W, class Storage>
__device__ __forceinline__ int load_units(In<Storage> p, i64 j0, i64 step, i64 stop,
                                          float (&v)[SegmentUnits<W>::VALUES]) {
    if constexpr (W == 1) {
        return load_strided(p, j0, step, stop, v);
    } else {
        constexpr int K = SegmentUnits<W>::PER_STEP;
        uint4 q[K];
        int n = 0;
#pragma unroll
        for (int u = 0; u < K; u++) {
            if (j0 + u * step < stop) {
                q[u] = load16(p, 8 * (j0 + u * step));
                n = u + 1;
            }
        }
#pragma unroll
        for (int u = 0; u < K; u++) {
            if (u >= n) continue;
            float f[8];
            unpack8<Storage>(q[u], f);
#pragma unroll
            for (int e = 0; e < 8; e++) v[8 * u + e] = f[e];
        }
        return 8 * n;
    }
}

// Positions below count in units of W values: a group is count·length/W units, cut into chunks on
// units; unit j of segment seg lies at element base + W·j of x, base = g·groupStride + seg·(segStride
// − length).
template <int W, class Storage>
__device__ __forceinline__ void segments_welford_partial_body(In<Storage> x, i64 groups, i64 groupStride, i64 count,
                                                              i64 length, i64 segStride, i64 chunks,
                                                              Out<float2> partials) {
    const i64 len = length / W;
    const i64 units = count * len;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        i64 end = chunk_begin(k + 1, chunks, units, 1);
        Welford acc = welford_empty();
        for (i64 pos = chunk_begin(k, chunks, units, 1); pos < end;) {
            i64 seg = pos / len;
            i64 stop = end < (seg + 1) * len ? end : (seg + 1) * len;
            i64 base = g * groupStride + seg * segStride - seg * length;
            for (i64 j0 = pos + threadIdx.x; j0 < stop; j0 += SegmentUnits<W>::PER_STEP * blockDim.x) {
                float v[SegmentUnits<W>::VALUES];
                int n = load_units<W, Storage>(x + base, j0, blockDim.x, stop, v);
                acc = welford_merge(acc, welford_of(v, n));
            }
            pos = stop;
        }
        acc = block_reduce(acc);
        if (threadIdx.x == 0) partials[item] = make_float2(acc.mean, acc.m2);
    }
}

#define SEGMENTS_WELFORD_PARTIAL_ENTRY(name, W, STORAGE)                                                               \
    KERNEL name(In<STORAGE> x, i64 groups, i64 groupStride, i64 count, i64 length, i64 segStride, i64 chunks,          \
                Out<float2> partials) {                                                                                \
        segments_welford_partial_body<W, STORAGE>(x, groups, groupStride, count, length, segStride, chunks, partials); \
    }
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial, 1, float)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_f16, 1, Half)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_bf16, 1, BFloat16)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_pack_f16, 8, Half)
SEGMENTS_WELFORD_PARTIAL_ENTRY(segments_welford_partial_pack_bf16, 8, BFloat16)

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

template <int W, class Storage>
__device__ __forceinline__ void segments_sums_partial_body(In<Storage> x, In<Storage> dy, In<float> center,
                                                           i64 centerDivisor, i64 groups, i64 groupStride, i64 count,
                                                           i64 length, i64 segStride, i64 chunks,
                                                           Out<float2> partials) {
    const i64 len = length / W;  // in units, as segments_welford_partial_body
    const i64 units = count * len;
    for (i64 item = blockIdx.x; item < groups * chunks; item += gridDim.x) {
        i64 g = item / chunks;
        i64 k = item % chunks;
        float m = center[g / centerDivisor];
        i64 end = chunk_begin(k + 1, chunks, units, 1);
        Sum2d acc = sum2d(0, 0);
        for (i64 pos = chunk_begin(k, chunks, units, 1); pos < end;) {
            i64 seg = pos / len;
            i64 stop = end < (seg + 1) * len ? end : (seg + 1) * len;
            i64 base = g * groupStride + seg * segStride - seg * length;
            for (i64 j0 = pos + threadIdx.x; j0 < stop; j0 += SegmentUnits<W>::PER_STEP * blockDim.x) {
                float d[SegmentUnits<W>::VALUES];
                float v[SegmentUnits<W>::VALUES];
                int n = load_units<W, Storage>(dy + base, j0, blockDim.x, stop, d);
                load_units<W, Storage>(x + base, j0, blockDim.x, stop, v);
#pragma unroll
                for (int u = 0; u < SegmentUnits<W>::VALUES; u++) {  // the sums in order
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

#define SEGMENTS_SUMS_PARTIAL_ENTRY(name, W, STORAGE)                                                            \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> center, i64 centerDivisor, i64 groups, i64 groupStride, \
                i64 count, i64 length, i64 segStride, i64 chunks, Out<float2> partials) {                        \
        segments_sums_partial_body<W, STORAGE>(x, dy, center, centerDivisor, groups, groupStride, count, length, \
                                               segStride, chunks, partials);                                     \
    }
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial, 1, float)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_f16, 1, Half)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_bf16, 1, BFloat16)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_pack_f16, 8, Half)
SEGMENTS_SUMS_PARTIAL_ENTRY(segments_sums_partial_pack_bf16, 8, BFloat16)

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

// S = 1 (a [N, C] input) with C a multiple of W and 16-byte aligned rows: thread t takes the W
// channels W·(t % (C/W)) .. + W − 1 (W = 4 float32 channels in a float4, or 8 16-bit ones in a
// pack) and chunk k = t / (C/W), loading 16 bytes from each of COLUMN_ROWS rows before folding them
// in (a warp reads 512 contiguous bytes of each row; 64 B in flight a thread, 128 B with dy;
// load_column_rows in common.cuh). Each channel's partial is as the scalar kernel's layout has it.
template <class Storage>
__device__ __forceinline__ void columns_welford_partial_vec_body(In<Storage> x, i64 N, i64 C, i64 chunks,
                                                                 Out<float2> partials) {
    constexpr int W = Pack16<Storage>::W;
    const i64 CW = C / W;
    GRID_STRIDE(t, CW * chunks) {
        i64 cw = t % CW;
        i64 k = t / CW;
        Welford acc[W];
#pragma unroll
        for (int e = 0; e < W; e++) acc[e] = welford_empty();
        i64 n1 = chunk_begin(k + 1, chunks, N, 1);
        for (i64 n0 = chunk_begin(k, chunks, N, 1); n0 < n1; n0 += COLUMN_ROWS) {
            float v[COLUMN_ROWS][W];
            int rows = load_column_rows<Storage>(x, n0, n1, C, cw, v);
#pragma unroll
            for (int e = 0; e < W; e++) {
                float column[COLUMN_ROWS];
#pragma unroll
                for (int u = 0; u < COLUMN_ROWS; u++) column[u] = v[u][e];
                acc[e] = welford_merge(acc[e], welford_of(column, rows));
            }
        }
#pragma unroll
        for (int e = 0; e < W; e++) partials[(W * cw + e) * chunks + k] = make_float2(acc[e].mean, acc[e].m2);
    }
}

#define COLUMNS_WELFORD_PARTIAL_VEC_ENTRY(name, STORAGE)                         \
    KERNEL name(In<STORAGE> x, i64 N, i64 C, i64 chunks, Out<float2> partials) { \
        columns_welford_partial_vec_body<STORAGE>(x, N, C, chunks, partials);    \
    }
COLUMNS_WELFORD_PARTIAL_VEC_ENTRY(columns_welford_partial_vec, float)
COLUMNS_WELFORD_PARTIAL_VEC_ENTRY(columns_welford_partial_vec_f16, Half)
COLUMNS_WELFORD_PARTIAL_VEC_ENTRY(columns_welford_partial_vec_bf16, BFloat16)

template <class Storage>
__device__ __forceinline__ void columns_sums_partial_vec_body(In<Storage> x, In<Storage> dy, In<float> center, i64 N,
                                                              i64 C, i64 chunks, Out<float2> partials) {
    constexpr int W = Pack16<Storage>::W;
    const i64 CW = C / W;
    GRID_STRIDE(t, CW * chunks) {
        i64 cw = t % CW;
        i64 k = t / CW;
        Sum2d acc[W];
        float m[W];
#pragma unroll
        for (int e = 0; e < W; e++) {
            acc[e] = sum2d(0, 0);
            m[e] = center[W * cw + e];
        }
        i64 n1 = chunk_begin(k + 1, chunks, N, 1);
        for (i64 n0 = chunk_begin(k, chunks, N, 1); n0 < n1; n0 += COLUMN_ROWS) {
            float v[COLUMN_ROWS][W];
            float g[COLUMN_ROWS][W];
            int rows = load_column_rows<Storage>(x, n0, n1, C, cw, v);
            load_column_rows<Storage>(dy, n0, n1, C, cw, g);
            for (int u = 0; u < rows; u++) {  // in order
#pragma unroll
                for (int e = 0; e < W; e++) {
                    acc[e].a += g[u][e];
                    acc[e].b += g[u][e] * (v[u][e] - m[e]);
                }
            }
        }
#pragma unroll
        for (int e = 0; e < W; e++) {
            partials[(W * cw + e) * chunks + k] = make_float2((float)acc[e].a, (float)acc[e].b);
        }
    }
}

#define COLUMNS_SUMS_PARTIAL_VEC_ENTRY(name, STORAGE)                                                              \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> center, i64 N, i64 C, i64 chunks, Out<float2> partials) { \
        columns_sums_partial_vec_body<STORAGE>(x, dy, center, N, C, chunks, partials);                             \
    }
COLUMNS_SUMS_PARTIAL_VEC_ENTRY(columns_sums_partial_vec, float)
COLUMNS_SUMS_PARTIAL_VEC_ENTRY(columns_sums_partial_vec_f16, Half)
COLUMNS_SUMS_PARTIAL_VEC_ENTRY(columns_sums_partial_vec_bf16, BFloat16)

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
