// common.cuh: what every kernel file shares.
//
// - Portability: the kernels compile with nvcc to PTX, and with g++ against the CPU emulator in
//   emulator/ (JNORM_EMULATOR), which the test suite uses where no GPU is present.
// - Welford accumulation with Chan merging, fp32 values and integer counts. A constant group keeps
//   its exact value as mean and 0 as M2; a NaN stays in its group.
// - Deterministic reductions: warp butterflies that merge in lane order, so every lane ends with
//   the same bits, then a fixed tree across warps. No atomics anywhere.
// - 64-bit offsets (i64) for every index into a tensor.
#pragma once

#ifdef JNORM_EMULATOR
#include "emulator/cuda_emulation.h"
#else
#define DYNAMIC_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char name##_bytes[]; \
    T* name = reinterpret_cast<T*>(name##_bytes)
#endif

typedef long long i64;

#define FULL_MASK 0xffffffffu
#define MAX_BLOCK 1024
#define MAX_WARPS (MAX_BLOCK / 32)

// One thread per index i in [0, n), over however many blocks the grid has.
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// ---------------------------------------------------------------- Welford / Chan

struct Welford {
    float mean;
    float m2;
    int n;
};

__device__ __forceinline__ Welford welford_empty() {
    Welford w;
    w.mean = 0.f;
    w.m2 = 0.f;
    w.n = 0;
    return w;
}

__device__ __forceinline__ void welford_push(Welford& a, float x) {
    a.n += 1;
    float d = x - a.mean;
    a.mean += d / (float)a.n;
    a.m2 += d * (x - a.mean);
}

// Chan et al.: merges (meanB, m2B) of nB values into (mean, m2) of n values. Not symmetric in
// rounding, so callers fix the order. Count is int in a block, i64 across a whole group.
template <class Count>
__device__ __forceinline__ void chan_merge(float& mean, float& m2, Count& n, float meanB, float m2B, Count nB) {
    if (nB == 0) return;
    if (n == 0) {
        mean = meanB;
        m2 = m2B;
        n = nB;
        return;
    }
    Count total = n + nB;
    float fb = (float)nB / (float)total;
    float d = meanB - mean;
    mean = mean + d * fb;
    m2 = m2 + m2B + d * d * (float)n * fb;
    n = total;
}

__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    chan_merge(a.mean, a.m2, a.n, b.mean, b.m2, b.n);
    return a;
}

// running = (1 − factor)·running + factor·batch, for the mean and the (unbiased) variance.
__device__ __forceinline__ void running_blend(float* running_mean, float* running_var, i64 i, float mean,
                                              float unbiasedVar, float factor) {
    running_mean[i] = (1.f - factor) * running_mean[i] + factor * mean;
    running_var[i] = (1.f - factor) * running_var[i] + factor * unbiasedVar;
}

// Butterfly over the warp; each pair merges (lower lane, upper lane), so all lanes agree bitwise.
__device__ __forceinline__ Welford warp_reduce(Welford a) {
    int lane = threadIdx.x & 31;
    for (int m = 16; m >= 1; m >>= 1) {
        Welford b;
        b.mean = __shfl_xor_sync(FULL_MASK, a.mean, m);
        b.m2 = __shfl_xor_sync(FULL_MASK, a.m2, m);
        b.n = __shfl_xor_sync(FULL_MASK, a.n, m);
        a = (lane & m) ? welford_merge(b, a) : welford_merge(a, b);
    }
    return a;
}

// ---------------------------------------------------------------- sums of two values

struct Sum2 {
    float a;
    float b;
};

__device__ __forceinline__ Sum2 sum2(float a, float b) {
    Sum2 s;
    s.a = a;
    s.b = b;
    return s;
}

__device__ __forceinline__ Sum2 warp_reduce(Sum2 s) {
    for (int m = 16; m >= 1; m >>= 1) {
        s.a += __shfl_xor_sync(FULL_MASK, s.a, m);
        s.b += __shfl_xor_sync(FULL_MASK, s.b, m);
    }
    return s;
}

__device__ __forceinline__ Sum2 reduce_identity(Sum2) {
    return sum2(0.f, 0.f);
}

__device__ __forceinline__ Welford reduce_identity(Welford) {
    return welford_empty();
}

// The warps' partial results of block_reduce, one slot of up to 16 bytes per warp; one array for
// every T (a plain static, not one per template instance, so the emulator can poison it).
__shared__ __align__(16) unsigned char block_reduce_slots[MAX_WARPS * 16];

// The whole block's reduction of T (Welford or Sum2), returned to every thread: each warp reduces,
// then warp 0 reduces the warps' results in warp order. blockDim.x must be a multiple of 32.
template <class T>
__device__ __forceinline__ T block_reduce(T v) {
    static_assert(sizeof(T) <= 16, "a block_reduce slot holds 16 bytes");
    T* partial = reinterpret_cast<T*>(block_reduce_slots);
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    v = warp_reduce(v);
    if ((threadIdx.x & 31) == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T p = (int)threadIdx.x < warps ? partial[threadIdx.x] : reduce_identity(v);
        p = warp_reduce(p);
        if (threadIdx.x == 0) partial[0] = p;
    }
    __syncthreads();
    T r = partial[0];
    __syncthreads();  // partial[] may be reused right after
    return r;
}

// ---------------------------------------------------------------- indexing

// Chunk k of `chunks` over `units` units of `unit` elements: the element range [begin, end).
// Every kernel and every finalize splits the same way, so counts are exact integers.
__device__ __forceinline__ i64 chunk_begin(i64 k, i64 chunks, i64 units, i64 unit) {
    return (k * units / chunks) * unit;
}

// The affine parameter an element uses. Per-channel rows start on a channel boundary and hold
// `perRow` channels of S values; elementwise parameters are indexed by the position in the row.
struct Affine {
    const float* w;
    const float* b;
    int perChannel;
    i64 C;
    i64 S;
};

__device__ __forceinline__ i64 first_channel(const Affine& a, i64 row, i64 L) {
    return a.perChannel ? (row * (L / a.S)) % a.C : 0;
}

__device__ __forceinline__ float param_or(const float* p, i64 i, float otherwise) {
    return p ? p[i] : otherwise;
}

__device__ __forceinline__ float affine(const Affine& a, float xhat, i64 firstChannel, i64 j) {
    i64 p = a.perChannel ? firstChannel + j / a.S : j;
    return xhat * param_or(a.w, p, 1.f) + param_or(a.b, p, 0.f);
}
