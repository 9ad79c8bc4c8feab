// rows.cuh: what rows.cu and rows_sm90.cu share: the teams that hold rows in registers, and
// LayerNorm's/RMSNorm's fused backward (rows.cu declares it for every GPU, rows_sm90.cu with
// thread-block clusters for compute capability 9.0).
#pragma once

#include "common.cuh"

// Rows of up to K·1024 values are held in registers by a team of T threads, the least power of two
// ≥ 32 with T·K ≥ L, 1024/T teams to a block of BIG_BLOCK threads. Thread i of a team holds K
// values of its row: float4 pairs (VEC, K = 8) at (i + T·(k/4))·4 + k%4, or lane-strided (K = 4: 8
// spill at the 64 registers a 1024-thread block leaves) at i + T·k; its values are a prefix of n
// slots. A team spans whole warps, so a warp butterfly stays in one row; the warps of a team then
// publish their results in shared memory (double-buffered by step, one barrier per step) and every
// thread merges its team's warps in warp order: the same bits in every thread.
#define TEAM_VALUES_VEC 8
#define TEAM_VALUES 4

// With VEC the thread's 8 values come in packs of W: two float4 for float32 storage, one 16-byte
// pack of eight for 16-bit storage.
template <bool VEC, class Storage = float>
struct Team {
    static constexpr int K = VEC ? TEAM_VALUES_VEC : TEAM_VALUES;
    static constexpr int W = VEC ? Pack16<Storage>::W : 1;
    int T;      // threads per row
    int teams;  // rows per block and step
    int team;   // this thread's team
    int i;      // this thread's place in it
    int n;      // this thread's values in a row (≤ K as T·K ≥ L)

    __device__ explicit Team(int L) {
        T = 32;
        while (T * K < L) T *= 2;
        teams = blockDim.x / T;
        team = threadIdx.x / T;
        i = threadIdx.x % T;
        n = VEC ? W * ((L / W - i + T - 1) / T) : (L - i + T - 1) / T;
    }

    // The column of the thread's slot k.
    __device__ int column(int k) const {
        return VEC ? (i + T * (k / W)) * W + k % W : i + T * k;
    }

    // The thread's n values of row p, all loads issued before any is used.
    template <class P>
    __device__ void load(P p, float (&v)[K]) const {
#pragma unroll
        for (int k = 0; k < K; k += W) {
            if (k >= n) continue;
            float f[W];
            load_values<W, Storage>(p, column(k), f);
#pragma unroll
            for (int e = 0; e < W; e++) v[k + e] = f[e];
        }
    }

    // The thread's n values into row p, 16 bytes at a time with VEC.
    template <class P>
    __device__ void store(P p, const float (&v)[K]) const {
#pragma unroll
        for (int k = 0; k < K; k += W) {
            if (k >= n) continue;
            float f[W];
#pragma unroll
            for (int e = 0; e < W; e++) f[e] = v[k + e];
            store_values<W, Storage>(p, column(k), f);
        }
    }

    // The team's merge of the warps' results its warps published in `slot`.
    template <class R, class S>
    __device__ R merge_published(S slot) const {
        R r = slot[team * T / 32];
        for (int q = team * T / 32 + 1; q < (team + 1) * T / 32; q++) r = merge(r, slot[q]);
        return r;
    }

    __device__ static Welford merge(Welford a, Welford b) {
        return welford_merge(a, b);
    }
    __device__ static Sum2 merge(Sum2 a, Sum2 b) {
        return sum2(a.a + b.a, a.b + b.b);
    }
};

// The fused backward's column sums in a cluster: each block adds its teams' sums (Σ dy·x̂ at
// columns[q·L + j], Σ dy at columns[(teams + q)·L + j] for team q) in team order into its team 0's
// slots; cluster_sync publishes them; block r of the cluster adds columns [r·span, (r + 1)·span) of
// all its blocks in rank order (distributed shared memory reads) and writes them at
// j·clusters + cluster; the second cluster_sync keeps each block resident (its shared memory
// valid) until the others have read it. Out of line: inlined, it costs the main loop a spill.
template <class P>
__device__ NOINLINE void cluster_column_sums(P columns, int teams, int L, Out<float2> partials) {
    const P a = columns;              // Σ dy·x̂ of team 0, then of the block
    const P b = columns + teams * L;  // Σ dy likewise
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        Sum2 c = sum2(0.f, 0.f);
        for (int q = 0; q < teams; q++) {
            c.a += a[q * L + j];
            c.b += b[q * L + j];
        }
        a[j] = c.a;  // only this thread reads column j
        b[j] = c.b;
    }
    cluster_sync();
    const int span = (L + CLUSTER_BLOCKS - 1) / CLUSTER_BLOCKS;
    const int rank = (int)cluster_rank();
    const i64 clusters = gridDim.x / CLUSTER_BLOCKS;
    const i64 cluster = blockIdx.x / CLUSTER_BLOCKS;
    const int end = (rank + 1) * span < L ? (rank + 1) * span : L;
    for (int j = rank * span + threadIdx.x; j < end; j += blockDim.x) {
        Sum2 c = sum2(0.f, 0.f);
#pragma unroll
        for (int q = 0; q < CLUSTER_BLOCKS; q++) {
            c.a += cluster_shared(a, q)[j];
            c.b += cluster_shared(b, q)[j];
        }
        partials[(i64)j * clusters + cluster] = make_float2(c.a, c.b);
    }
    cluster_sync();
}

// LayerNorm/RMSNorm backward by teams, with the parameter gradients in the same pass: x and dy read
// once (12 B per element, plus the column partials). Block b walks the rows of chunk b of
// gridDim.x, team t taking rows t, t + teams, ... of the chunk, all teams a step at a time:
// 1. each thread loads its values of x and dy, all before any is used; sums g = dy·w and g·x̂ over
//    them (warp butterflies), and adds dy·x̂ and dy into its team's column sums in shared memory (its
//    own slots, in row order);
// 2. the team's warps' sums merged in order: the row's Σ g and Σ g·x̂;
// 3. dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) from the registers.
// At the end thread j adds the teams' column sums in team order and the block writes one float2 per
// column at j·gridDim.x + b, for sums_finalize. With CLUSTER (rows_sm90.cu) the blocks of a
// thread-block cluster first add their column sums in rank order through distributed shared memory
// (cluster_column_sums), and the cluster writes one float2 per column: a cluster of 8 blocks
// writes, and sums_finalize reads, the partials of one block. Shared memory: 2·teams·L floats
// (≤ 64 KiB), none without parameter gradients. The host chooses gridDim.x, trading partial bytes
// (16·L per block or cluster, written and read) against blocks in flight.
template <bool VEC, class Storage, bool CLUSTER>
__device__ void rows_backward_fused_impl(In<Storage> x, In<Storage> dy, In<float> mean, In<float> rstd, In<float> w,
                                         Out<Storage> dx, i64 rows, int L, int centered, Out<float2> partials) {
    DYNAMIC_SHARED(float, columns);                 // Σ dy·x̂ of each team's columns, then Σ dy: [2][teams][L]
    STATIC_SHARED(Sum2, published, 2 * MAX_WARPS);  // each warp's row sums, by step parity
    constexpr int K = Team<VEC, Storage>::K;
    const Team<VEC, Storage> t(L);
    const int warp = threadIdx.x >> 5;
    const i64 r0 = chunk_begin(blockIdx.x, gridDim.x, rows, 1);
    const i64 r1 = chunk_begin(blockIdx.x + 1, gridDim.x, rows, 1);
    auto gw = columns + t.team * L;  // the team's column sums: Σ dy·x̂ at gw[j], Σ dy at gw[j + gb]
    const int gb = t.teams * L;
    if (partials) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            if (k < t.n) gw[t.column(k)] = gw[t.column(k) + gb] = 0.f;
        }
    }
    int step = 0;
    for (i64 base = r0; base < r1; base += t.teams, step++) {
        const i64 r = base + t.team;
        const bool active = r < r1;
        float v[K];  // x, then x̂
        float d[K];  // dy, then g = dy·w
        Sum2 acc = sum2(0.f, 0.f);
        float s = 0.f;
        if (active) {
            t.load(x + r * L, v);
            t.load(dy + r * L, d);
            const float m = centered ? mean[r] : 0.f;
            s = rstd[r];
#pragma unroll
            for (int k = 0; k < K; k++) {
                if (k >= t.n) continue;
                int j = t.column(k);
                v[k] = (v[k] - m) * s;
                if (partials) {
                    gw[j] += d[k] * v[k];
                    gw[j + gb] += d[k];
                }
                d[k] *= param_or(w, j, 1.f);
                acc.a += d[k];
                acc.b += d[k] * v[k];
            }
        }
        acc = warp_reduce(acc);
        auto slot = published + (step & 1) * MAX_WARPS;
        if ((threadIdx.x & 31) == 0) slot[warp] = acc;
        __syncthreads();
        if (!active) continue;
        const Sum2 row = t.template merge_published<Sum2>(slot);
        const float meanG = centered ? row.a / (float)L : 0.f;
        const float meanGX = row.b / (float)L;
#pragma unroll
        for (int k = 0; k < K; k++) {
            if (k < t.n) d[k] = s * (d[k] - meanG - v[k] * meanGX);
        }
        t.store(dx + r * L, d);
    }
    if (!partials) return;
    __syncthreads();  // after the last step's barrier this one only matters to a block without rows
    if constexpr (CLUSTER) {
        cluster_column_sums(columns, t.teams, L, partials);
    } else {
        for (int j = threadIdx.x; j < L; j += blockDim.x) {
            Sum2 c = sum2(0.f, 0.f);
            for (int q = 0; q < t.teams; q++) {
                c.a += columns[q * L + j];
                c.b += columns[(t.teams + q) * L + j];
            }
            partials[(i64)j * gridDim.x + blockIdx.x] = make_float2(c.a, c.b);
        }
    }
}
