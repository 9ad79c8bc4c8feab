// rows.cu: the rows family (LayerNorm, InstanceNorm, GroupNorm, RMSNorm), one statistic per
// contiguous row of L values.
//
// Forward. A row that fits on chip is read once and normalized from the on-chip copy (1 read, 1
// write per element): rows_forward_warp keeps a row of up to 1024 values in one warp's registers
// (32 per lane, many rows per block); rows_forward_block keeps a longer row in shared memory, one
// block per row. Both reduce with Welford/Chan (block_reduce: warp butterflies, then warp 0).
// Rows too long for shared memory are split across blocks by stats.cu and normalized by
// rows_apply (2 reads, 1 write).
//
// Backward for elementwise affine (LayerNorm, RMSNorm), per row with g = dy·w and
// x̂ = (x − mean)·rstd: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), RMS rows without mean(g).
// rows_backward_fused takes rows of up to 8192 values, a team of threads per row holding x and dy in
// registers (1 read each), and sums dγ and dβ down the columns of its block's rows in the same pass.
// Longer rows: rows_backward_block reads x and dy twice, and rows_param_grads_partial sums dy·x̂ and
// dy down each column over a chunk of rows, one thread per column. sums_finalize (stats.cu) adds the
// blocks' or chunks' column sums into the gradients in order.
// InstanceNorm and GroupNorm backward, where a row's x and dy fit in shared memory, run
// group_backward_fused (one block per row, x and dy read once); larger groups use the per-(n, c)
// sums of stats.cu and the elementwise pass of channels.cu.
//
// The _vec variants load float4; the host picks them when the row length is a multiple of 4 and
// the pointers are 16-byte aligned.
#include "common.cuh"

#define WARP_ROW_MAX 1024
#define PER_LANE (WARP_ROW_MAX / 32)

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

// Element k of a lane's PER_LANE values: strided by 32 lanes, or by float4 groups of 4.
template <bool VEC>
__device__ __forceinline__ int lane_element(int lane, int k) {
    return VEC ? (lane + 32 * (k >> 2)) * 4 + (k & 3) : lane + 32 * k;
}

template <bool VEC>
__device__ void rows_forward_warp_impl(In<float> x, Out<float> y, Affine a, Out<float> mean_out, Out<float> rstd_out,
                                       Out<float> var_out, i64 rows, int L, float eps, int centered) {
    const int lane = threadIdx.x & 31;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
        auto xr = x + r * L;
        float v[PER_LANE];
        int n = 0;  // the lane's values in the row: a prefix of its slots
#pragma unroll
        for (int k = 0; k < PER_LANE; k++) {
            int j = lane_element<VEC>(lane, k);
            if (j < L) {
                if (VEC && (k & 3) == 0) {
                    float4 q = load4(xr, j);
                    v[k] = q.x;
                    v[k + 1] = q.y;
                    v[k + 2] = q.z;
                    v[k + 3] = q.w;
                } else if (!VEC) {
                    v[k] = xr[j];
                }
                n = k + 1;
            }
        }
        Welford acc = warp_reduce(welford_of(v, n));
        float mean, rstd;
        row_moments(acc, centered, eps, mean, rstd, lane == 0, r, mean_out, rstd_out, var_out);
        i64 fc = first_channel(a, r, L);
        auto yr = y + r * L;
#pragma unroll
        for (int k = 0; k < PER_LANE; k += VEC ? 4 : 1) {
            int j = lane_element<VEC>(lane, k);
            if (j >= L) continue;
            if (VEC) {  // L is a multiple of 4: all four are in the row
                store4(
                    yr, j,
                    make_float4(affine(a, (v[k] - mean) * rstd, fc, j), affine(a, (v[k + 1] - mean) * rstd, fc, j + 1),
                                affine(a, (v[k + 2] - mean) * rstd, fc, j + 2),
                                affine(a, (v[k + 3] - mean) * rstd, fc, j + 3)));
            } else {
                yr[j] = affine(a, (v[k] - mean) * rstd, fc, j);
            }
        }
    }
}

// The four forward entry points: one per (path, VEC), the same arguments; the block path may take
// more than 48 KiB of shared memory.
#define ROWS_FORWARD_ENTRY(kind, name, impl, VEC)                                                                     \
    kind name(In<float> x, Out<float> y, In<float> w, In<float> b, int perChannel, i64 C, i64 S, Out<float> mean_out, \
              Out<float> rstd_out, Out<float> var_out, i64 rows, int L, float eps, int centered) {                    \
        impl<VEC>(x, y, Affine{w, b, perChannel, C, S}, mean_out, rstd_out, var_out, rows, L, eps, centered);         \
    }

ROWS_FORWARD_ENTRY(KERNEL, rows_forward_warp, rows_forward_warp_impl, false)
ROWS_FORWARD_ENTRY(KERNEL, rows_forward_warp_vec, rows_forward_warp_impl, true)

template <bool VEC>
__device__ void rows_forward_block_impl(In<float> x, Out<float> y, Affine a, Out<float> mean_out, Out<float> rstd_out,
                                        Out<float> var_out, i64 rows, int L, float eps, int centered) {
    DYNAMIC_SHARED(float, cache);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        auto xr = x + r * L;
        Welford acc = welford_empty();
        if (VEC) {
            for (int j = threadIdx.x * 4; j < L; j += blockDim.x * 4) {
                float4 q = load4(xr, j);
                shared_store4(cache, j, q);
                float v[4] = {q.x, q.y, q.z, q.w};
                acc = welford_merge(acc, welford_of(v, 4));
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
        if (VEC) {
            for (int j = threadIdx.x * 4; j < L; j += blockDim.x * 4) {
                float4 q = shared_load4(cache, j);
                store4(
                    yr, j,
                    make_float4(affine(a, (q.x - mean) * rstd, fc, j), affine(a, (q.y - mean) * rstd, fc, j + 1),
                                affine(a, (q.z - mean) * rstd, fc, j + 2), affine(a, (q.w - mean) * rstd, fc, j + 3)));
            }
        } else {
            for (int j = threadIdx.x; j < L; j += blockDim.x) yr[j] = affine(a, (cache[j] - mean) * rstd, fc, j);
        }
    }
}

ROWS_FORWARD_ENTRY(SHARED_KERNEL, rows_forward_block, rows_forward_block_impl, false)
ROWS_FORWARD_ENTRY(SHARED_KERNEL, rows_forward_block_vec, rows_forward_block_impl, true)

// Split path, after stats.cu: one block per tile of APPLY_TILE values of one row. mean is null for
// RMS rows.
#define APPLY_TILE 4096

KERNEL rows_apply(In<float> x, Out<float> y, In<float> w, In<float> b, int perChannel, i64 C, i64 S, In<float> mean,
                  In<float> rstd, i64 rows, i64 L) {
    Affine a{w, b, perChannel, C, S};
    i64 tilesPerRow = (L + APPLY_TILE - 1) / APPLY_TILE;
    for (i64 t = blockIdx.x; t < rows * tilesPerRow; t += gridDim.x) {
        i64 r = t / tilesPerRow;
        i64 j0 = (t % tilesPerRow) * APPLY_TILE;
        i64 j1 = j0 + APPLY_TILE < L ? j0 + APPLY_TILE : L;
        float m = mean ? mean[r] : 0.f;
        float s = rstd[r];
        i64 fc = first_channel(a, r, L);
        for (i64 j = j0 + threadIdx.x; j < j1; j += blockDim.x) y[r * L + j] = affine(a, (x[r * L + j] - m) * s, fc, j);
    }
}

// ---------------------------------------------------------------- backward, elementwise affine

KERNEL rows_backward_block(In<float> x, In<float> dy, In<float> mean, In<float> rstd, In<float> w, Out<float> dx,
                           i64 rows, i64 L, int centered) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float m = centered ? mean[r] : 0.f;
        float s = rstd[r];
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 j = threadIdx.x; j < L; j += blockDim.x) {
            float g = dy[r * L + j] * param_or(w, j, 1.f);
            acc.a += g;
            acc.b += g * (x[r * L + j] - m) * s;
        }
        acc = block_reduce(acc);
        float meanG = centered ? acc.a / (float)L : 0.f;
        float meanGX = acc.b / (float)L;
        for (i64 j = threadIdx.x; j < L; j += blockDim.x) {
            float g = dy[r * L + j] * param_or(w, j, 1.f);
            dx[r * L + j] = s * (g - meanG - (x[r * L + j] - m) * s * meanGX);
        }
    }
}

// LayerNorm/RMSNorm backward with the parameter gradients in the same pass, for rows of up to
// K·1024 values: x and dy read once (12 B per element, plus the column partials). A thread holds
// K = FUSED_PER_THREAD values of x and of dy as float4 pairs, or half as many lane-strided (8 would
// spill at the 64 registers a 1024-thread block leaves).
// A row belongs to a team of T threads (the least power of two ≥ 32 with T·K ≥ L),
// a block of 1024 threads holds 1024/T teams, and block b walks the rows of chunk b of gridDim.x,
// team t taking rows t, t + teams, ... of the chunk, all teams a step at a time:
// 1. each thread loads its K values of x and dy, all before any is used; sums g = dy·w and g·x̂ over them (warp
// butterflies), and adds dy·x̂ and dy
//    into its team's column sums in shared memory (its own slots, in row order);
// 2. each warp leader publishes its sums (double-buffered by step, so one barrier per step), and
//    every thread adds its team's warps in warp order: the row's Σ g and Σ g·x̂, the same bits in
//    every thread of the team;
// 3. dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) from the registers.
// At the end thread j adds the teams' column sums in team order and the block writes one float2 per
// column at j·gridDim.x + b, for sums_finalize. Shared memory: 2·teams·L floats (≤ 64 KiB), none
// without parameter gradients. The host chooses gridDim.x, trading partial bytes (16·L per block,
// written and read) against blocks in flight.
#define FUSED_PER_THREAD 8

template <bool VEC>
__device__ __forceinline__ int fused_column(int i, int T, int k) {
    return VEC ? (i + T * (k >> 2)) * 4 + (k & 3) : i + T * k;
}

template <bool VEC>
__device__ void rows_backward_fused_impl(In<float> x, In<float> dy, In<float> mean, In<float> rstd, In<float> w,
                                         Out<float> dx, i64 rows, int L, int centered, Out<float2> partials) {
    DYNAMIC_SHARED(float, columns);                 // Σ dy·x̂ of each team's columns, then Σ dy: [2][teams][L]
    STATIC_SHARED(Sum2, published, 2 * MAX_WARPS);  // each warp's row sums, by step parity
    constexpr int K = VEC ? FUSED_PER_THREAD : FUSED_PER_THREAD / 2;
    int T = 32;
    while (T * K < L) T *= 2;
    const int teams = blockDim.x / T;
    const int team = threadIdx.x / T;
    const int i = threadIdx.x % T;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const i64 r0 = chunk_begin(blockIdx.x, gridDim.x, rows, 1);
    const i64 r1 = chunk_begin(blockIdx.x + 1, gridDim.x, rows, 1);
    // The thread's columns in a row are a prefix of its K slots: n of them.
    const int n = VEC ? 4 * ((L / 4 - i + T - 1) / T) : (L - i + T - 1) / T;  // ≤ K as T·K ≥ L
    auto gw = columns + team * L;                                             // the team's column sums
    auto gb = columns + (teams + team) * L;
    if (partials) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            if (k < n) gw[fused_column<VEC>(i, T, k)] = gb[fused_column<VEC>(i, T, k)] = 0.f;
        }
    }
    for (i64 base = r0, step = 0; base < r1; base += teams, step++) {
        const i64 r = base + team;
        const bool active = r < r1;
        float v[K];  // x, then x̂
        float d[K];  // dy, then g = dy·w
        Sum2 acc = sum2(0.f, 0.f);
        float m = 0.f;
        float s = 0.f;
        if (active) {
            auto xr = x + r * L;
            auto dyr = dy + r * L;
#pragma unroll
            for (int k = 0; k < K; k += VEC ? 4 : 1) {
                if (k >= n) continue;
                int j = fused_column<VEC>(i, T, k);
                if (VEC) {
                    float4 a = load4(xr, j);
                    float4 b = load4(dyr, j);
                    v[k] = a.x, v[k + 1] = a.y, v[k + 2] = a.z, v[k + 3] = a.w;
                    d[k] = b.x, d[k + 1] = b.y, d[k + 2] = b.z, d[k + 3] = b.w;
                } else {
                    v[k] = xr[j];
                    d[k] = dyr[j];
                }
            }
            m = centered ? mean[r] : 0.f;
            s = rstd[r];
#pragma unroll
            for (int k = 0; k < K; k++) {
                int j = fused_column<VEC>(i, T, k);
                if (k < n) {
                    v[k] = (v[k] - m) * s;
                    if (partials) {
                        gw[j] += d[k] * v[k];
                        gb[j] += d[k];
                    }
                    d[k] *= param_or(w, j, 1.f);  // g
                    acc.a += d[k];
                    acc.b += d[k] * v[k];
                }
            }
        }
        acc = warp_reduce(acc);
        auto slot = published + (step & 1) * MAX_WARPS;
        if (lane == 0) slot[warp] = acc;
        __syncthreads();
        if (!active) continue;
        Sum2 row = sum2(0.f, 0.f);
        for (int q = team * T / 32; q < (team + 1) * T / 32; q++) {
            Sum2 part = slot[q];
            row.a += part.a;
            row.b += part.b;
        }
        const float meanG = centered ? row.a / (float)L : 0.f;
        const float meanGX = row.b / (float)L;
        auto dxr = dx + r * L;
#pragma unroll
        for (int k = 0; k < K; k += VEC ? 4 : 1) {
            if (k >= n) continue;
            int j = fused_column<VEC>(i, T, k);
            float out[4];
#pragma unroll
            for (int u = 0; u < (VEC ? 4 : 1); u++) {
                out[u] = s * (d[k + u] - meanG - v[k + u] * meanGX);
            }
            if (VEC) {
                store4(dxr, j, make_float4(out[0], out[1], out[2], out[3]));
            } else {
                dxr[j] = out[0];
            }
        }
    }
    if (!partials) return;
    __syncthreads();  // after the last step's barrier this one only matters to a block without rows
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        Sum2 c = sum2(0.f, 0.f);
        for (int t = 0; t < teams; t++) {
            c.a += columns[t * L + j];
            c.b += columns[(teams + t) * L + j];
        }
        partials[(i64)j * gridDim.x + blockIdx.x] = make_float2(c.a, c.b);
    }
}

#define ROWS_BACKWARD_FUSED_ENTRY(name, VEC)                                                                      \
    BIG_SHARED_KERNEL name(In<float> x, In<float> dy, In<float> mean, In<float> rstd, In<float> w, Out<float> dx, \
                           i64 rows, int L, int centered, Out<float2> partials) {                                 \
        rows_backward_fused_impl<VEC>(x, dy, mean, rstd, w, dx, rows, L, centered, partials);                     \
    }

ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused, false)
ROWS_BACKWARD_FUSED_ENTRY(rows_backward_fused_vec, true)

// Thread (column j, chunk k) sums dy·x̂ and dy over the rows of chunk k; partials at j·chunks + k.
KERNEL rows_param_grads_partial(In<float> x, In<float> dy, In<float> mean, In<float> rstd, i64 rows, i64 L, i64 chunks,
                                Out<float2> partials) {
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
        partials[j * chunks + k] = make_float2(acc.a, acc.b);
    }
}

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
template <bool VEC>
__device__ void group_backward_fused_impl(In<float> x, In<float> dy, In<float> mean, In<float> rstd, In<float> w,
                                          Out<float> dx, i64 rows, i64 C, int cpg, int S, Out<float> sum_dy,
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
        if (VEC) {
            for (int j = threadIdx.x * 4; j < L; j += blockDim.x * 4) {
                shared_store4(xs, j, load4(xr, j));
                shared_store4(ds, j, load4(dyr, j));
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
            Sum2 acc = sum2(0.f, 0.f);
            for (int j = k * S + lane; j < (k + 1) * S; j += 32) {
                acc.a += ds[j];
                acc.b += ds[j] * (xs[j] - m);
            }
            acc = warp_reduce(acc);
            if (lane == 0) {
                chan[k] = acc.a;
                chan[cpg + k] = acc.b;
                sum_dy[q0 + k] = acc.a;
                sum_dy_x[q0 + k] = acc.b;
            }
        }
        __syncthreads();
        if (warp == 0) {
            Sum2 g = sum2(0.f, 0.f);
            for (int k = lane; k < cpg; k += 32) {
                float wc = param_or(w, first + k, 1.f);
                g.a += wc * chan[k];
                g.b += wc * chan[cpg + k];
            }
            g = warp_reduce(g);
            if (lane == 0) {
                coefficients[0] = -s * s * s * g.b / (float)L;
                coefficients[1] = -s * g.a / (float)L;
            }
        }
        __syncthreads();
        const float b = coefficients[0];
        const float d = coefficients[1];
        auto dxr = dx + r * L;
        if (VEC) {  // S is a multiple of 4: a float4 stays in one channel
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
                dxr[j] = s * param_or(w, first + j / S, 1.f) * ds[j] + b * (xs[j] - m) + d;
            }
        }
        // No barrier before the next row: a thread refills only the elements it wrote dx from; what
        // threads read of each other's (channel sums, coefficients) lies between the next barriers.
    }
}

#define GROUP_BACKWARD_ENTRY(name, VEC)                                                                           \
    BIG_SHARED_KERNEL name(In<float> x, In<float> dy, In<float> mean, In<float> rstd, In<float> w, Out<float> dx, \
                           i64 rows, i64 C, int cpg, int S, Out<float> sum_dy, Out<float> sum_dy_x) {             \
        group_backward_fused_impl<VEC>(x, dy, mean, rstd, w, dx, rows, C, cpg, S, sum_dy, sum_dy_x);              \
    }

GROUP_BACKWARD_ENTRY(group_backward_fused, false)
GROUP_BACKWARD_ENTRY(group_backward_fused_vec, true)
