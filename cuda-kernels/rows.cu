// rows.cu: the rows family (LayerNorm, InstanceNorm, GroupNorm, RMSNorm), one statistic per
// contiguous row of L values.
//
// Forward. A row that fits on chip is read once and normalized from the on-chip copy (1 read, 1
// write per element): rows_forward_team keeps a row of up to 8192 values (4096 without float4) in a
// team of threads' registers (many rows per 1024-thread block); rows_forward_block keeps a longer
// row in shared memory, one block per row. Both reduce with Welford/Chan (warp butterflies, then
// the warps in order). Rows too long for shared memory are split across blocks by stats.cu and
// normalized by rows_apply (2 reads, 1 write).
//
// Backward for elementwise affine (LayerNorm, RMSNorm), per row with g = dy·w and
// x̂ = (x − mean)·rstd: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), RMS rows without mean(g).
// rows_backward_fused takes the rows a team holds, x and dy in registers (1 read each), and sums dγ
// and dβ down the columns of its block's rows in the same pass.
// Longer rows: rows_backward_block reads x and dy twice, and rows_param_grads_partial sums dy·x̂ and
// dy down each column over a chunk of rows, one thread per column. sums_finalize (stats.cu) adds the
// blocks' or chunks' column sums into the gradients in order; a single chunk adds its own.
// InstanceNorm and GroupNorm backward, where a row's x and dy fit in shared memory, run
// group_backward_fused (one block per row, x and dy read once); larger groups use the per-(n, c)
// sums of stats.cu and the elementwise pass of channels.cu.
//
// The _vec variants move 16 bytes at a time: float4, or packs of eight 16-bit values (_vec_f16,
// _vec_bf16); the host picks them when the row length is a multiple of 4 (8) and the pointers are
// 16-byte aligned.
#include "rows.cuh"

// Mean and rstd of row r from its Welford statistics (RMS rows: rstd of the mean square, mean 0);
// the calling thread stores them (and the variance) where asked.
__device__ __forceinline__ void row_moments(Welford acc, int centered, float eps, float& mean, float& rstd, bool store,
                                            i64 r, Out<float> mean_out, Out<float> rstd_out, Out<float> var_out) {
    float var = acc.m2 / (float)acc.n;
    mean = centered ? acc.mean : 0.f;
    rstd = rsqrtf((centered ? var : var + acc.mean * acc.mean) + eps);
    if (store) {
        if (mean_out) mean_out[r] = mean;
        if (var_out) var_out[r] = var;
        rstd_out[r] = rstd;
    }
}

// ---------------------------------------------------------------- teams: a row in registers (Team: rows.cuh)

// Forward by teams: per step each team loads its row, Welford over the thread's values (one Chan
// merge), the warp butterfly, the team's warps merged in order; then y from the registers.
template <bool VEC, class Storage>
__device__ void rows_forward_team_impl(In<Storage> x, Out<Storage> y, Affine a, Out<float> mean_out,
                                       Out<float> rstd_out, Out<float> var_out, i64 rows, int L, float eps,
                                       int centered) {
    STATIC_SHARED(Welford, published, 2 * MAX_WARPS);  // each warp's row statistics, by step parity
    const Team<VEC, Storage> t(L);
    const int warp = threadIdx.x >> 5;
    int offset[Team<VEC, Storage>::K];  // each slot's parameter index less the row's first channel, divided once
#pragma unroll
    for (int k = 0; k < Team<VEC, Storage>::K; k++) offset[k] = a.perChannel ? t.column(k) / (int)a.S : t.column(k);
    int step = 0;
    for (i64 base = (i64)blockIdx.x * t.teams; base < rows; base += (i64)gridDim.x * t.teams, step++) {
        const i64 r = base + t.team;
        const bool active = r < rows;
        float v[Team<VEC, Storage>::K];
        if (active) t.load(x + r * L, v);
        Welford acc = warp_reduce(active ? welford_of(v, t.n) : welford_empty());
        auto slot = published + (step & 1) * MAX_WARPS;
        if ((threadIdx.x & 31) == 0) slot[warp] = acc;
        __syncthreads();
        if (!active) continue;
        float mean, rstd;
        row_moments(t.template merge_published<Welford>(slot), centered, eps, mean, rstd, t.i == 0, r, mean_out,
                    rstd_out, var_out);
        i64 fc = first_channel(a, r, L);
#pragma unroll
        for (int k = 0; k < Team<VEC, Storage>::K; k++) {
            if (k < t.n) v[k] = affine_at(a, (v[k] - mean) * rstd, fc + offset[k]);
        }
        t.store(y + r * L, v);
    }
}

// The four forward entry points: one per (path, VEC), the same arguments; the block path may take
// more than 48 KiB of shared memory.
#define ROWS_FORWARD_ENTRY(kind, name, impl, VEC, STORAGE)                                                             \
    kind name(In<STORAGE> x, Out<STORAGE> y, In<float> w, In<float> b, int perChannel, i64 C, i64 S,                   \
              Out<float> mean_out, Out<float> rstd_out, Out<float> var_out, i64 rows, int L, float eps,                \
              int centered) {                                                                                          \
        impl<VEC, STORAGE>(x, y, Affine{w, b, perChannel, C, S}, mean_out, rstd_out, var_out, rows, L, eps, centered); \
    }

ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team, rows_forward_team_impl, false, float)
ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team_f16, rows_forward_team_impl, false, Half)
ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team_bf16, rows_forward_team_impl, false, BFloat16)
ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team_vec, rows_forward_team_impl, true, float)
ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team_vec_f16, rows_forward_team_impl, true, Half)
ROWS_FORWARD_ENTRY(BIG_KERNEL, rows_forward_team_vec_bf16, rows_forward_team_impl, true, BFloat16)

template <bool VEC, class Storage>
__device__ void rows_forward_block_impl(In<Storage> x, Out<Storage> y, Affine a, Out<float> mean_out,
                                        Out<float> rstd_out, Out<float> var_out, i64 rows, int L, float eps,
                                        int centered) {
    DYNAMIC_SHARED(float, cache);
    // With VEC, 16 bytes of W values at a time (per-channel rows then have S a multiple of W, so a
    // pack stays in one channel). The thread's columns j, by W, and their channel offsets j / S as
    // a cursor: the same in every row.
    constexpr int W = VEC ? Pack16<Storage>::W : 1;
    const RowCursor columns(threadIdx.x * W, blockDim.x * W, a.perChannel ? a.S : L, 1);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        auto xr = x + r * L;
        Welford acc = welford_empty();
        if constexpr (VEC) {  // two packs per step, both loaded before either is used
            using P = Pack16<Storage>;
            for (int j = threadIdx.x * W; j < L; j += 2 * blockDim.x * W) {
                int j2 = j + blockDim.x * W;
                typename P::Raw q = P::load(xr, j);
                typename P::Raw q2 = j2 < L ? P::load(xr, j2) : q;
                float v[2 * W];
                float f[W];
                P::widen(q, f);
#pragma unroll
                for (int e = 0; e < W; e++) v[e] = f[e];
                P::widen(q2, f);
#pragma unroll
                for (int e = 0; e < W; e++) v[W + e] = f[e];
#pragma unroll
                for (int e = 0; e < W; e += 4) {
                    shared_store4(cache, j + e, make_float4(v[e], v[e + 1], v[e + 2], v[e + 3]));
                    if (j2 < L)
                        shared_store4(cache, j2 + e, make_float4(v[W + e], v[W + e + 1], v[W + e + 2], v[W + e + 3]));
                }
                acc = welford_merge(acc, welford_of(v, j2 < L ? 2 * W : W));
            }
        } else {
            for (int j0 = threadIdx.x; j0 < L; j0 += WELFORD_BATCH * blockDim.x) {
                float v[WELFORD_BATCH];
                int n = load_strided(xr, j0, blockDim.x, L, v);
                for (int u = 0; u < n; u++) cache[j0 + u * blockDim.x] = v[u];
                acc = welford_merge(acc, welford_of(v, n));
            }
        }
        acc = block_reduce(acc);
        float mean, rstd;
        row_moments(acc, centered, eps, mean, rstd, threadIdx.x == 0, r, mean_out, rstd_out, var_out);
        // Each thread reads back only the elements it cached itself: no barrier needed.
        i64 fc = first_channel(a, r, L);
        auto yr = y + r * L;
        RowCursor k = columns;
        if constexpr (VEC) {
            for (int j = threadIdx.x * W; j < L; j += blockDim.x * W, k.advance()) {
                float o[W];
#pragma unroll
                for (int e = 0; e < W; e += 4) {
                    float4 q = shared_load4(cache, j + e);
                    o[e] = q.x, o[e + 1] = q.y, o[e + 2] = q.z, o[e + 3] = q.w;
                }
#pragma unroll
                for (int e = 0; e < W; e++) {
                    o[e] = affine_at(a, (o[e] - mean) * rstd, a.perChannel ? fc + k.hi : (i64)j + e);
                }
                Pack16<Storage>::store(yr, j, o);
            }
        } else {
            for (int j = threadIdx.x; j < L; j += blockDim.x, k.advance()) {
                put(yr, j, affine_at(a, (cache[j] - mean) * rstd, a.perChannel ? fc + k.hi : j));
            }
        }
    }
}

ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block, rows_forward_block_impl, false, float)
ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block_f16, rows_forward_block_impl, false, Half)
ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block_bf16, rows_forward_block_impl, false, BFloat16)
ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block_vec, rows_forward_block_impl, true, float)
ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block_vec_f16, rows_forward_block_impl, true, Half)
ROWS_FORWARD_ENTRY(BIG_SHARED_KERNEL, rows_forward_block_vec_bf16, rows_forward_block_impl, true, BFloat16)

// Split path, after stats.cu: y over the flat [rows, L], BATCH values (or float4s) in flight per
// thread, the row and the parameter index of each from cursors (the row r = i / L and column
// j = i % L; for per-channel rows the channel (i / S) % C), so no value divides. The _vec variant
// counts float4s: L, and S for per-channel rows, are multiples of 4, so a float4 stays in one
// channel (its elementwise parameters are 4 consecutive columns). mean is null for RMS rows.
template <bool VEC, class Storage>
__device__ void rows_apply_impl(In<Storage> x, Out<Storage> y, Affine a, In<float> mean, In<float> rstd, i64 rows,
                                i64 L) {
    constexpr int W = VEC ? Pack16<Storage>::W : 1;  // a float4, or a 16-byte pack of 8
    const i64 total = rows * L / W;
    RowCursor row(grid_first(), grid_threads(), L / W, 1);
    RowCursor channel(grid_first(), grid_threads(), a.perChannel ? a.S / W : 1, a.perChannel ? a.C : 1);
    GRID_STRIDE_BATCH(i0, stride, total) {
        float v[BATCH * W];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            if (i0 + u * stride >= total) continue;
            float f[W];
            load_values<W, Storage>(x, W * (i0 + u * stride), f);
#pragma unroll
            for (int e = 0; e < W; e++) v[W * u + e] = f[e];
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++, row.advance(), channel.advance()) {
            i64 i = i0 + u * stride;
            if (i >= total) break;
            float m = mean ? mean[row.hi] : 0.f;
            float s = rstd[row.hi];
            i64 p = a.perChannel ? channel.lo : row.pos * W;
            float o[W];
#pragma unroll
            for (int e = 0; e < W; e++) o[e] = affine_at(a, (v[W * u + e] - m) * s, a.perChannel ? p : p + e);
            store_values<W, Storage>(y, W * i, o);
        }
    }
}

#define ROWS_APPLY_ENTRY(kind, name, VEC, STORAGE)                                                                   \
    kind name(In<STORAGE> x, Out<STORAGE> y, In<float> w, In<float> b, int perChannel, i64 C, i64 S, In<float> mean, \
              In<float> rstd, i64 rows, i64 L) {                                                                     \
        rows_apply_impl<VEC, STORAGE>(x, y, Affine{w, b, perChannel, C, S}, mean, rstd, rows, L);                    \
    }

// The float4 and 16-byte pack variants keep 16 and 32 values in flight: at 64 registers they would spill.
ROWS_APPLY_ENTRY(STREAMING_KERNEL, rows_apply, false, float)
ROWS_APPLY_ENTRY(STREAMING_KERNEL, rows_apply_f16, false, Half)
ROWS_APPLY_ENTRY(STREAMING_KERNEL, rows_apply_bf16, false, BFloat16)
ROWS_APPLY_ENTRY(KERNEL, rows_apply_vec, true, float)
ROWS_APPLY_ENTRY(KERNEL, rows_apply_vec_f16, true, Half)
ROWS_APPLY_ENTRY(KERNEL, rows_apply_vec_bf16, true, BFloat16)

// ---------------------------------------------------------------- backward, elementwise affine
// (rows_backward_fused_impl: rows.cuh)

// Long rows, one block a row, x and dy read twice (the second time from cache): Σ g and Σ g·x̂, then
// dx. With VEC, 16 bytes of x and of dy a step (W values: the row a multiple of W, 16-byte aligned).
template <bool VEC, class Storage>
__device__ void rows_backward_block_body(In<Storage> x, In<Storage> dy, In<float> mean, In<float> rstd, In<float> w,
                                         Out<Storage> dx, i64 rows, i64 L, int centered) {
    constexpr int W = VEC ? Pack16<Storage>::W : 1;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float m = centered ? mean[r] : 0.f;
        float s = rstd[r];
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 j = threadIdx.x * W; j < L; j += blockDim.x * W) {
            float v[W];
            float d[W];
            load_values<W, Storage>(x + r * L, j, v);
            load_values<W, Storage>(dy + r * L, j, d);
#pragma unroll
            for (int e = 0; e < W; e++) {
                float g = d[e] * param_or(w, j + e, 1.f);
                acc.a += g;
                acc.b += g * (v[e] - m) * s;
            }
        }
        acc = block_reduce(acc);
        float meanG = centered ? acc.a / (float)L : 0.f;
        float meanGX = acc.b / (float)L;
        for (i64 j = threadIdx.x * W; j < L; j += blockDim.x * W) {
            float v[W];
            float d[W];
            load_values<W, Storage>(x + r * L, j, v);
            load_values<W, Storage>(dy + r * L, j, d);
#pragma unroll
            for (int e = 0; e < W; e++) {
                float g = d[e] * param_or(w, j + e, 1.f);
                d[e] = s * (g - meanG - (v[e] - m) * s * meanGX);
            }
            store_values<W, Storage>(dx + r * L, j, d);
        }
    }
}

#define ROWS_BACKWARD_BLOCK_ENTRY(name, VEC, STORAGE)                                                                  \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, In<float> w, Out<STORAGE> dx, i64 rows, \
                i64 L, int centered) {                                                                                 \
        rows_backward_block_body<VEC, STORAGE>(x, dy, mean, rstd, w, dx, rows, L, centered);                           \
    }
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block, false, float)
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block_f16, false, Half)
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block_bf16, false, BFloat16)
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block_vec, true, float)
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block_vec_f16, true, Half)
ROWS_BACKWARD_BLOCK_ENTRY(rows_backward_block_vec_bf16, true, BFloat16)

#define ROWS_BACKWARD_FUSED_ENTRY(name, VEC, STORAGE)                                                         \
    BIG_SHARED_KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, In<float> w,        \
                           Out<STORAGE> dx, i64 rows, int L, int centered, Out<float2> partials) {            \
        rows_backward_fused_impl<VEC, STORAGE, false>(x, dy, mean, rstd, w, dx, rows, L, centered, partials); \
    }

ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused, false, float)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_f16, false, Half)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_bf16, false, BFloat16)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_vec, true, float)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_vec_f16, true, Half)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_vec_bf16, true, BFloat16)

// Column j's sums over chunk k: its partial at j·chunks + k, or, with one chunk and no partials,
// added into the gradients (either may be null) as sums_finalize would add that one partial.
__device__ __forceinline__ void column_sums_out(Sum2 acc, i64 j, i64 chunks, i64 k, Out<float2> partials,
                                                Out<float> grad_w, Out<float> grad_b) {
    if (partials) {
        partials[j * chunks + k] = make_float2(acc.a, acc.b);
        return;
    }
    if (grad_w) grad_w[j] = (float)((double)grad_w[j] + (double)acc.a);
    if (grad_b) grad_b[j] = (float)((double)grad_b[j] + (double)acc.b);
}

// Thread (column j, chunk k) sums dy·x̂ and dy over the rows of chunk k (column_sums_out).
template <class Storage>
__device__ void rows_param_grads_partial_body(In<Storage> x, In<Storage> dy, In<float> mean, In<float> rstd, i64 rows,
                                              i64 L, i64 chunks, Out<float2> partials, Out<float> grad_w,
                                              Out<float> grad_b) {
    GRID_STRIDE(t, L * chunks) {
        i64 j = t % L;
        i64 k = t / L;
        Sum2 acc = sum2(0.f, 0.f);
        i64 r1 = chunk_begin(k + 1, chunks, rows, 1);
        for (i64 r0 = chunk_begin(k, chunks, rows, 1); r0 < r1; r0 += WELFORD_BATCH) {
            float d[WELFORD_BATCH];  // WELFORD_BATCH rows' loads, then the sums in order
            float v[WELFORD_BATCH];
            int n = load_strided(dy + r0 * L + j, 0, L, (r1 - r0) * L, d);
            load_strided(x + r0 * L + j, 0, L, (r1 - r0) * L, v);
            for (int u = 0; u < n; u++) {
                float xh = (v[u] - (mean ? mean[r0 + u] : 0.f)) * rstd[r0 + u];
                acc.a += d[u] * xh;
                acc.b += d[u];
            }
        }
        column_sums_out(acc, j, chunks, k, partials, grad_w, grad_b);
    }
}

#define ROWS_PARAM_GRADS_PARTIAL_ENTRY(name, STORAGE)                                                         \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, i64 rows, i64 L, i64 chunks,   \
                Out<float2> partials, Out<float> grad_w, Out<float> grad_b) {                                 \
        rows_param_grads_partial_body<STORAGE>(x, dy, mean, rstd, rows, L, chunks, partials, grad_w, grad_b); \
    }
ROWS_PARAM_GRADS_PARTIAL_ENTRY(rows_param_grads_partial, float)
ROWS_PARAM_GRADS_PARTIAL_ENTRY(rows_param_grads_partial_f16, Half)
ROWS_PARAM_GRADS_PARTIAL_ENTRY(rows_param_grads_partial_bf16, BFloat16)

// The same with 16 bytes of each row a thread (W columns: 4 float32 or 8 16-bit values), COLUMN_ROWS
// rows loaded before any is used; the row a multiple of W, 16-byte aligned. Thread t takes columns
// W·(t % (L/W)) .. + W − 1 and chunk t / (L/W).
template <class Storage>
__device__ void rows_param_grads_partial_vec_body(In<Storage> x, In<Storage> dy, In<float> mean, In<float> rstd,
                                                  i64 rows, i64 L, i64 chunks, Out<float2> partials, Out<float> grad_w,
                                                  Out<float> grad_b) {
    constexpr int W = Pack16<Storage>::W;
    const i64 LW = L / W;
    GRID_STRIDE(t, LW * chunks) {
        i64 jw = t % LW;
        i64 k = t / LW;
        Sum2 acc[W];
#pragma unroll
        for (int e = 0; e < W; e++) acc[e] = sum2(0.f, 0.f);
        i64 r1 = chunk_begin(k + 1, chunks, rows, 1);
        for (i64 r0 = chunk_begin(k, chunks, rows, 1); r0 < r1; r0 += COLUMN_ROWS) {
            float d[COLUMN_ROWS][W];
            float v[COLUMN_ROWS][W];
            int n = load_column_rows<Storage>(dy, r0, r1, L, jw, d);
            load_column_rows<Storage>(x, r0, r1, L, jw, v);
            for (int u = 0; u < n; u++) {  // in row order
                float m = mean ? mean[r0 + u] : 0.f;
                float s = rstd[r0 + u];
#pragma unroll
                for (int e = 0; e < W; e++) {
                    acc[e].a += d[u][e] * ((v[u][e] - m) * s);
                    acc[e].b += d[u][e];
                }
            }
        }
#pragma unroll
        for (int e = 0; e < W; e++) column_sums_out(acc[e], W * jw + e, chunks, k, partials, grad_w, grad_b);
    }
}

#define ROWS_PARAM_GRADS_PARTIAL_VEC_ENTRY(name, STORAGE)                                                         \
    KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, i64 rows, i64 L, i64 chunks,       \
                Out<float2> partials, Out<float> grad_w, Out<float> grad_b) {                                     \
        rows_param_grads_partial_vec_body<STORAGE>(x, dy, mean, rstd, rows, L, chunks, partials, grad_w, grad_b); \
    }
ROWS_PARAM_GRADS_PARTIAL_VEC_ENTRY(rows_param_grads_partial_vec, float)
ROWS_PARAM_GRADS_PARTIAL_VEC_ENTRY(rows_param_grads_partial_vec_f16, Half)
ROWS_PARAM_GRADS_PARTIAL_VEC_ENTRY(rows_param_grads_partial_vec_bf16, BFloat16)

// ---------------------------------------------------------------- backward, per-channel affine, on chip

// InstanceNorm and GroupNorm backward for a group that fits in shared memory, one block of 1024
// threads per row (n, group) of L = cpg·S values (a group of up to 227 KiB leaves one block per
// SM: 1024 threads keep 32 warps of loads in flight) (cpg channels of S values), x and dy read once (12 B per element):
// 1. the row's x and dy are cached in shared memory;
// 2. warp w takes channels w, w + warps, ...: Σ dy and Σ dy·(x − mean) over the channel's S values
//    (lane-strided, then the butterfly), written for the parameter gradients (nc_param_grads);
// 3. warp 0 adds them over the group, weighted by w_c, in a fixed order: with g = w·dy,
//    B = −rstd³·Σ g·(x − mean)/L and D = −rstd·Σ g/L;
// 4. dx = rstd·w_c·dy + B·(x − mean) + D from the cache.
// Shared memory: 2·L floats for the row, 2·cpg for the channel sums.
template <bool VEC, class Storage>
__device__ void group_backward_fused_impl(In<Storage> x, In<Storage> dy, In<float> mean, In<float> rstd, In<float> w,
                                          Out<Storage> dx, i64 rows, i64 C, int cpg, int S, Out<float> sum_dy,
                                          Out<float> sum_dy_x) {
    DYNAMIC_SHARED(float, cache);
    STATIC_SHARED(float, coefficients, 2);
    const int L = cpg * S;
    auto xs = cache;
    auto ds = cache + L;
    auto chan = cache + 2 * L;  // Σ dy, then Σ dy·(x − mean), per channel of the row
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        auto xr = x + r * L;
        auto dyr = dy + r * L;
        if constexpr (VEC && sizeof(Storage) == 4) {
            for (int j = threadIdx.x * 4; j < L; j += blockDim.x * 4) {
                shared_store4(xs, j, load4(xr, j));
                shared_store4(ds, j, load4(dyr, j));
            }
        } else if constexpr (VEC) {  // 16-byte packs of eight 16-bit values, widened into the cache
            for (int j = threadIdx.x * 8; j < L; j += blockDim.x * 8) {
                float f[8];
                float g[8];
                unpack8<Storage>(load16(xr, j), f);
                unpack8<Storage>(load16(dyr, j), g);
                shared_store4(xs, j, make_float4(f[0], f[1], f[2], f[3]));
                shared_store4(xs, j + 4, make_float4(f[4], f[5], f[6], f[7]));
                shared_store4(ds, j, make_float4(g[0], g[1], g[2], g[3]));
                shared_store4(ds, j + 4, make_float4(g[4], g[5], g[6], g[7]));
            }
        } else {
            for (int j0 = threadIdx.x; j0 < L; j0 += WELFORD_BATCH * blockDim.x) {
                float v[WELFORD_BATCH];
                float g[WELFORD_BATCH];
                int n = load_strided(xr, j0, blockDim.x, L, v);
                load_strided(dyr, j0, blockDim.x, L, g);
                for (int u = 0; u < n; u++) {
                    xs[j0 + u * blockDim.x] = v[u];
                    ds[j0 + u * blockDim.x] = g[u];
                }
            }
        }
        __syncthreads();
        const float m = mean[r];
        const float s = rstd[r];
        const i64 first = (r * cpg) % C;  // the row's first channel
        const i64 q0 = r * cpg;           // its first (n, c)
        for (int k = warp; k < cpg; k += warps) {
            Sum2d acc = sum2d(0, 0);
            for (int j = k * S + lane; j < (k + 1) * S; j += 32) {
                acc.a += ds[j];
                acc.b += ds[j] * (xs[j] - m);
            }
            acc = warp_reduce(acc);
            if (lane == 0) {
                chan[k] = (float)acc.a;
                chan[cpg + k] = (float)acc.b;
                sum_dy[q0 + k] = (float)acc.a;
                sum_dy_x[q0 + k] = (float)acc.b;
            }
        }
        __syncthreads();
        if (warp == 0) {
            Sum2d g = sum2d(0, 0);
            for (int k = lane; k < cpg; k += 32) {
                float wc = param_or(w, first + k, 1.f);
                g.a += wc * chan[k];
                g.b += wc * chan[cpg + k];
            }
            g = warp_reduce(g);
            if (lane == 0) {
                coefficients[0] = -s * s * s * (float)g.b / (float)L;
                coefficients[1] = -s * (float)g.a / (float)L;
            }
        }
        __syncthreads();
        const float b = coefficients[0];
        const float d = coefficients[1];
        auto dxr = dx + r * L;
        if constexpr (VEC && sizeof(Storage) != 4) {  // S is a multiple of 8: a pack stays in one channel
            for (int j = threadIdx.x * 8; j < L; j += blockDim.x * 8) {
                float a = s * param_or(w, first + j / S, 1.f);
                float o[8];
#pragma unroll
                for (int e = 0; e < 8; e++) o[e] = a * ds[j + e] + b * (xs[j + e] - m) + d;
                store16(dxr, j, pack8<Storage>(o));
            }
        } else if constexpr (VEC) {  // S is a multiple of 4: a float4 stays in one channel
            for (int j = threadIdx.x * 4; j < L; j += blockDim.x * 4) {
                float a = s * param_or(w, first + j / S, 1.f);
                float4 g = shared_load4(ds, j);
                float4 v = shared_load4(xs, j);
                store4(dxr, j,
                       make_float4(a * g.x + b * (v.x - m) + d, a * g.y + b * (v.y - m) + d,
                                   a * g.z + b * (v.z - m) + d, a * g.w + b * (v.w - m) + d));
            }
        } else {
            for (int j = threadIdx.x; j < L; j += blockDim.x) {
                put(dxr, j, s * param_or(w, first + j / S, 1.f) * ds[j] + b * (xs[j] - m) + d);
            }
        }
        // No barrier before the next row: a thread refills only the elements it wrote dx from; what
        // threads read of each other's (channel sums, coefficients) lies between the next barriers.
    }
}

#define GROUP_BACKWARD_ENTRY(name, VEC, STORAGE)                                                                       \
    BIG_SHARED_KERNEL name(In<STORAGE> x, In<STORAGE> dy, In<float> mean, In<float> rstd, In<float> w,                 \
                           Out<STORAGE> dx, i64 rows, i64 C, int cpg, int S, Out<float> sum_dy, Out<float> sum_dy_x) { \
        group_backward_fused_impl<VEC, STORAGE>(x, dy, mean, rstd, w, dx, rows, C, cpg, S, sum_dy, sum_dy_x);          \
    }

GROUP_BACKWARD_ENTRY(group_backward_fused, false, float)
GROUP_BACKWARD_ENTRY(group_backward_fused_f16, false, Half)
GROUP_BACKWARD_ENTRY(group_backward_fused_bf16, false, BFloat16)
GROUP_BACKWARD_ENTRY(group_backward_fused_vec, true, float)
GROUP_BACKWARD_ENTRY(group_backward_fused_vec_f16, true, Half)
GROUP_BACKWARD_ENTRY(group_backward_fused_vec_bf16, true, BFloat16)
