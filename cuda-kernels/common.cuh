// common.cuh: what every kernel file shares.
//
// - Portability: the kernels compile with nvcc to PTX, and with g++ against the CPU emulator in
//   emulator/ (JNORM_EMULATOR), which the test suite uses where no GPU is present.
// - Memory: kernel parameters in global memory are In<T> (read-only for the whole launch: const
//   and __restrict__, so loads may take the read-only path) or Out<T> (written, maybe read);
//   load4/store4 move 16 bytes; shared memory is DYNAMIC_SHARED or STATIC_SHARED. On the GPU these
//   are plain pointers and arrays. On the emulator they are checked pointers: every access is
//   bounds-checked against its buffer on both sides (and its alignment), and global accesses are
//   counted as memory traffic.
// - Welford accumulation with Chan merging, fp32 values and integer counts. A constant group keeps
//   its exact value as mean and 0 as M2; a NaN stays in its group.
// - Deterministic reductions: warp butterflies that merge in lane order, so every lane ends with
//   the same bits, then a fixed tree across warps. No atomics anywhere.
// - 64-bit offsets (i64) for every index into a tensor.
// - Every kernel is declared KERNEL, STREAMING_KERNEL, SHARED_KERNEL, BIG_KERNEL or BIG_SHARED_KERNEL, which set its
//   __launch_bounds__ to KERNEL_BLOCK or BIG_BLOCK threads; the host launches exactly that many (the Java launch
//   classes are generated from these declarations, block size included). The SHARED_ ones mark a kernel that may take
//   more than 48 KiB of dynamic shared memory, for which the host sets the opt-in attribute. The minimum of one
//   resident block leaves ptxas its whole register budget (with the size alone it spills small kernels to chase
//   occupancy); STREAMING_KERNEL asks for four (64 registers) where that fits without spilling.
#pragma once

#include <type_traits>

#ifdef JNORM_EMULATOR
#include "emulator/cuda_emulation.h"
#else
#include <cuda_fp16.h>
#endif

typedef long long i64;

#define KERNEL_BLOCK 256
#define BIG_BLOCK 1024
#define KERNEL extern "C" __global__ void __launch_bounds__(KERNEL_BLOCK, 1)
#define SHARED_KERNEL KERNEL
#define BIG_KERNEL extern "C" __global__ void __launch_bounds__(BIG_BLOCK, 1)
#define BIG_SHARED_KERNEL BIG_KERNEL
// An elementwise streaming pass, held to 64 registers (4 resident blocks, 32 warps per SM) so that
// enough of its loads are in flight; check-ptx.sh fails it if that spills.
#define STREAMING_KERNEL extern "C" __global__ void __launch_bounds__(KERNEL_BLOCK, 4)
// A BIG_SHARED_KERNEL whose blocks run in thread-block clusters of CLUSTER_BLOCKS (sm_90: its file
// is named *_sm90.cu and compiled for compute_90; the host launches grids of whole clusters). The
// blocks of a cluster are resident together and read each other's shared memory (cluster_shared)
// between cluster_sync barriers.
#define CLUSTER_BLOCKS 8
// A device function kept out of line (__noinline__ on the GPU; the emulator's compiler decides).
#ifdef JNORM_EMULATOR
#define NOINLINE
#else
#define NOINLINE __noinline__
#endif
#define BIG_CLUSTER_SHARED_KERNEL \
    extern "C" __global__ void __cluster_dims__(CLUSTER_BLOCKS, 1, 1) __launch_bounds__(BIG_BLOCK, 1)

#ifdef JNORM_EMULATOR
template <class T>
using In = emu::Ptr<const T>;
template <class T>
using Out = emu::Ptr<T>;
#define DYNAMIC_SHARED(T, name) emu::Ptr<T> name = emu::dynamic_shared<T>()
#define STATIC_SHARED(T, name, count) emu::Ptr<T> name = emu::static_shared<T>(__FILE__ ":" #name, (count))
#else
template <class T>
using In = const T* __restrict__;
template <class T>
using Out = T*;
#define DYNAMIC_SHARED(T, name)                                   \
    extern __shared__ __align__(16) unsigned char name##_bytes[]; \
    T* name = reinterpret_cast<T*>(name##_bytes)
#define STATIC_SHARED(T, name, count) __shared__ __align__(16) T name[count]

// 16-byte accesses of four floats starting at element i (16-byte aligned), one instruction each.
// In global memory: loads through In<> pointers (const __restrict__) compile to ld.global.nc.v4;
// stores are written as st.global.v4 directly, because a float4 assignment leaves as four 4-byte
// stores when its values come from different branches (the affine parameters' null checks). The
// asm has no memory clobber, so loads may still be scheduled across it: kernels never read in the
// same launch what they store4. In shared memory, plain float4 accesses.
__device__ __forceinline__ float4 load4(const float* p, i64 i) {
    return *reinterpret_cast<const float4*>(p + i);
}

__device__ __forceinline__ void store4(float* p, i64 i, float4 v) {
    asm volatile("st.global.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p + i), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w));
}

// 16 bytes of eight 16-bit values from element i (16-byte aligned): ld.global.nc.v4.u32 and
// st.global.v4.u32, as load4 and store4 for floats.
template <class T>
__device__ __forceinline__ uint4 load16(const T* p, i64 i) {
    return *reinterpret_cast<const uint4*>(p + i);
}

template <class T>
__device__ __forceinline__ void store16(T* p, i64 i, uint4 v) {
    asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p + i), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
}

__device__ __forceinline__ float4 shared_load4(const float* p, i64 i) {
    return *reinterpret_cast<const float4*>(p + i);
}

__device__ __forceinline__ void shared_store4(float* p, i64 i, float4 v) {
    *reinterpret_cast<float4*>(p + i) = v;
}

// Thread-block clusters (compute capability 9.0): this block's rank in its cluster, the cluster's
// barrier (a release by every thread of every block, then an acquire), and the same shared-memory
// address in block `rank` of the cluster (distributed shared memory). Declared everywhere, defined
// where the architecture has them (only *_sm90.cu kernels call them).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#include <cooperative_groups.h>

__device__ __forceinline__ unsigned cluster_rank() {
    return cooperative_groups::this_cluster().block_rank();
}

__device__ __forceinline__ void cluster_sync() {
    cooperative_groups::this_cluster().sync();
}

template <class T>
__device__ __forceinline__ T* cluster_shared(T* p, unsigned rank) {
    return cooperative_groups::this_cluster().map_shared_rank(p, rank);
}
#else
__device__ unsigned cluster_rank();
__device__ void cluster_sync();
template <class T>
__device__ T* cluster_shared(T* p, unsigned rank);
#endif
#endif

#define FULL_MASK 0xffffffffu
#define MAX_WARPS (BIG_BLOCK / 32)

// One thread per index i in [0, n), over however many blocks the grid has.
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// A thread's first index in a grid-stride loop, and the stride.
__device__ __forceinline__ i64 grid_first() {
    return (i64)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ i64 grid_threads() {
    return (i64)gridDim.x * blockDim.x;
}

// The same in steps of BATCH indices per thread, i0 + u·stride for u < BATCH (a warp's accesses
// stay contiguous), so that a thread issues BATCH loads before it uses any: BATCH·16 bytes in
// flight per thread with float4.
#define BATCH 4
#define GRID_STRIDE_BATCH(i0, stride, n)                                                                      \
    for (i64 stride = (i64)gridDim.x * blockDim.x, i0 = (i64)blockIdx.x * blockDim.x + threadIdx.x; i0 < (n); \
         i0 += BATCH * stride)

// ---------------------------------------------------------------- 16-bit storage
//
// float16 and bfloat16 tensors are stored as their 16-bit patterns, typed Half and BFloat16 so that
// a kernel templated over its storage type S (float, Half, BFloat16) reads any of them as float
// (to_float, exact) and writes float results rounded once to nearest even (from_float<S>). All
// arithmetic, and every statistic, stays in fp32 or wider.
struct Half {
    unsigned short bits;
};
struct BFloat16 {
    unsigned short bits;
};

#ifdef JNORM_EMULATOR
inline unsigned int float_bits(float f) {
    unsigned int x;
    std::memcpy(&x, &f, 4);
    return x;
}

inline float bits_float(unsigned int x) {
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}
#else
__device__ __forceinline__ unsigned int float_bits(float f) {
    return __float_as_uint(f);
}

__device__ __forceinline__ float bits_float(unsigned int x) {
    return __uint_as_float(x);
}
#endif

// float16 <-> float32. On the GPU one cvt each (cvt.rn rounds to nearest even); the emulator
// computes the same bits in C++.
#ifdef JNORM_EMULATOR
inline float half_to_float(unsigned short h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    uint32_t x;
    if (e == 0) {  // zero or subnormal: m · 2^-24, exact in float
        float f = (float)m * 5.9604644775390625e-8f;
        std::memcpy(&x, &f, 4);
        x |= sign;
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112u) << 23) | (m << 13);
    }
    float r;
    std::memcpy(&r, &x, 4);
    return r;
}

inline unsigned short float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN, quiet
    if (ax >= 0x47800000u) return (unsigned short)(sign | 0x7c00u);  // 65536 and over (and inf): inf
    if (ax < 0x38800000u) {  // under 2^-14: a subnormal multiple of 2^-24, rounded to nearest even
        float a;
        std::memcpy(&a, &ax, 4);
        return (unsigned short)(sign | (uint32_t)std::nearbyint(a * 16777216.0f));
    }
    uint32_t h = ((((ax >> 23) - 112u)) << 10) | ((ax & 0x7fffffu) >> 13);
    uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;  // a carry may reach the exponent, or inf
    return (unsigned short)(sign | h);
}
#else
__device__ __forceinline__ float half_to_float(unsigned short h) {
    return __half2float(__ushort_as_half(h));
}

__device__ __forceinline__ unsigned short float_to_half(float f) {
    return __half_as_ushort(__float2half_rn(f));
}
#endif

// bfloat16 <-> float32: the top half of a float's bits, rounded to nearest even; NaN made quiet.
__device__ __forceinline__ float bf16_to_float(unsigned short b) {
    return bits_float((unsigned int)b << 16);
}

__device__ __forceinline__ unsigned short float_to_bf16(float f) {
    unsigned int x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
    return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float to_float(float v) {
    return v;
}

__device__ __forceinline__ float to_float(Half h) {
    return half_to_float(h.bits);
}

__device__ __forceinline__ float to_float(BFloat16 b) {
    return bf16_to_float(b.bits);
}

template <class S>
__device__ __forceinline__ S from_float(float v);

template <>
__device__ __forceinline__ float from_float<float>(float v) {
    return v;
}

template <>
__device__ __forceinline__ Half from_float<Half>(float v) {
    return Half{float_to_half(v)};
}

template <>
__device__ __forceinline__ BFloat16 from_float<BFloat16>(float v) {
    return BFloat16{float_to_bf16(v)};
}

// Eight 16-bit values of a 16-byte pack as floats (little-endian: the low half of each word first),
// and eight floats rounded into one.
template <class Storage>
__device__ __forceinline__ void unpack8(uint4 q, float (&f)[8]) {
    const unsigned int w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int e = 0; e < 4; e++) {
        f[2 * e] = to_float(Storage{(unsigned short)(w[e] & 0xffffu)});
        f[2 * e + 1] = to_float(Storage{(unsigned short)(w[e] >> 16)});
    }
}

template <class Storage>
__device__ __forceinline__ uint4 pack8(const float (&f)[8]) {
    unsigned int w[4];
#pragma unroll
    for (int e = 0; e < 4; e++) {
        w[e] = (unsigned int)from_float<Storage>(f[2 * e]).bits |
               ((unsigned int)from_float<Storage>(f[2 * e + 1]).bits << 16);
    }
    return uint4{w[0], w[1], w[2], w[3]};
}

// 16 bytes from element j, widened into W floats: a float4 (W = 4), or a pack of eight 16-bit values
// (W = 8); and W floats rounded into 16 bytes at element j.
template <class Storage>
struct Pack16 {
    static constexpr int W = sizeof(Storage) == 4 ? 4 : 8;
    using Raw = std::conditional_t<W == 4, float4, uint4>;

    template <class P>
    __device__ static Raw load(P p, i64 j) {
        if constexpr (W == 4) {
            return load4(p, j);
        } else {
            return load16(p, j);
        }
    }

    __device__ static void widen(Raw q, float (&v)[W]) {
        if constexpr (W == 4) {
            v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
        } else {
            unpack8<Storage>(q, v);
        }
    }

    template <class P>
    __device__ static void store(P p, i64 j, const float (&v)[W]) {
        if constexpr (W == 4) {
            store4(p, j, make_float4(v[0], v[1], v[2], v[3]));
        } else {
            store16(p, j, pack8<Storage>(v));
        }
    }
};

// W values of p from element j, widened: one element (W = 1), or 16 bytes (Pack16's W); and W
// floats stored back from element j, rounded once.
template <int W, class Storage, class P>
__device__ __forceinline__ void load_values(P p, i64 j, float (&v)[W]) {
    if constexpr (W == 1) {
        v[0] = to_float(p[j]);
    } else {
        Pack16<Storage>::widen(Pack16<Storage>::load(p, j), v);
    }
}

template <int W, class Storage, class P>
__device__ __forceinline__ void store_values(P p, i64 j, const float (&v)[W]) {
    if constexpr (W == 1) {
        p[j] = from_float<Storage>(v[0]);
    } else {
        Pack16<Storage>::store(p, j, v);
    }
}

// 16 bytes of each of COLUMN_ROWS rows of a [rows, C] array: rows n0 + u below n1, the W = Pack16's
// W columns from W·cw, all loaded before any is widened; returns how many rows.
#define COLUMN_ROWS 4

template <class Storage>
__device__ __forceinline__ int load_column_rows(In<Storage> p, i64 n0, i64 n1, i64 C, i64 cw,
                                                float (&v)[COLUMN_ROWS][Pack16<Storage>::W]) {
    using P = Pack16<Storage>;
    typename P::Raw q[COLUMN_ROWS] = {};
    int rows = 0;
#pragma unroll
    for (int u = 0; u < COLUMN_ROWS; u++) {
        if (n0 + u < n1) {
            q[u] = P::load(p, (n0 + u) * C + P::W * cw);
            rows = u + 1;
        }
    }
#pragma unroll
    for (int u = 0; u < COLUMN_ROWS; u++) P::widen(q[u], v[u]);  // rows past `rows` are never used
    return rows;
}

// Element i of p set to v, rounded once to p's storage type.
template <class S>
__device__ __forceinline__ void put(Out<S> p, i64 i, float v) {
    p[i] = from_float<S>(v);
}

// A kernel over storage is a template body and an entry per storage type, each invoked on a line of
// its own (the Java launch classes are generated from the .cu text): name for float32, name_f16,
// name_bf16.

// ---------------------------------------------------------------- Welford / Chan

// Count is int within a block, i64 across the partials of a whole group.
template <class Count>
struct WelfordOf {
    float mean;
    float m2;
    Count n;
};
typedef WelfordOf<int> Welford;
typedef WelfordOf<i64> Welford64;

__device__ __forceinline__ Welford welford_empty() {
    Welford w;
    w.mean = 0.f;
    w.m2 = 0.f;
    w.n = 0;
    return w;
}

// Chan et al.: merges (meanB, m2B) of nB values into (mean, m2) of n values. Not symmetric in
// rounding, so callers fix the order.
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

template <class Count>
__device__ __forceinline__ WelfordOf<Count> welford_merge(WelfordOf<Count> a, WelfordOf<Count> b) {
    chan_merge(a.mean, a.m2, a.n, b.mean, b.m2, b.n);
    return a;
}

// The statistics of the first n of K values in registers, two passes over them: the mean (one
// division), then M2 about it. A thread loads a batch, then folds it in with one Chan merge: two
// divisions per batch instead of one per value, and the batch's loads in flight together.
template <int K>
__device__ __forceinline__ Welford welford_of(const float (&v)[K], int n) {
    Welford w = welford_empty();
    if (n == 0) return w;
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < K; i++) {
        if (i < n) sum += v[i];
    }
    w.mean = sum / (float)n;
#pragma unroll
    for (int i = 0; i < K; i++) {
        if (i < n) {
            float d = v[i] - w.mean;
            w.m2 += d * d;
        }
    }
    w.n = n;
    return w;
}

// Values a statistics thread loads before it folds them in.
#define WELFORD_BATCH 8

// Loads p[j0], p[j0 + step], ... below `stop` into v, up to K of them, all before any is used (K
// loads in flight); returns how many (the valid ones are a prefix of v).
template <int K, class P>
__device__ __forceinline__ int load_strided(P p, i64 j0, i64 step, i64 stop, float (&v)[K]) {
    int n = 0;
#pragma unroll
    for (int u = 0; u < K; u++) {
        i64 j = j0 + u * step;
        if (j < stop) {
            v[u] = to_float(p[j]);
            n = u + 1;
        }
    }
    return n;
}

// running = (1 − factor)·running + factor·batch, for the mean and the (unbiased) variance (when
// kept: mean-only BatchNorm keeps no running variance).
__device__ __forceinline__ void running_blend(Out<float> running_mean, Out<float> running_var, i64 i, float mean,
                                              float unbiasedVar, float factor) {
    running_mean[i] = (1.f - factor) * running_mean[i] + factor * mean;
    if (running_var) running_var[i] = (1.f - factor) * running_var[i] + factor * unbiasedVar;
}

// Butterfly over the warp; each pair merges (lower lane, upper lane), so all lanes agree bitwise.
template <class Count>
__device__ __forceinline__ WelfordOf<Count> warp_reduce(WelfordOf<Count> a) {
    int lane = threadIdx.x & 31;
    for (int m = 16; m >= 1; m >>= 1) {
        WelfordOf<Count> b;
        b.mean = __shfl_xor_sync(FULL_MASK, a.mean, m);
        b.m2 = __shfl_xor_sync(FULL_MASK, a.m2, m);
        b.n = __shfl_xor_sync(FULL_MASK, a.n, m);
        a = (lane & m) ? welford_merge(b, a) : welford_merge(a, b);
    }
    return a;
}

// ---------------------------------------------------------------- sums of two values

// Sum2 for sums within a row or a block; SumsOf<double> (Sum2d) for the sums behind parameter
// gradients and per-channel coefficients, which run over up to N·S values: each thread adds its
// fp32 values (and products) into doubles, blocks and the merge tree add doubles, and only each
// stage's partials are stored as fp32. In fp32 throughout, 256 threads' chains of 256 values each
// left errors of ~1e-4 on a gradient of ~150 (DESIGN's bound is 1e-4 at every size).
template <class T>
struct SumsOf {
    T a;
    T b;
};
typedef SumsOf<float> Sum2;
typedef SumsOf<double> Sum2d;

__device__ __forceinline__ Sum2 sum2(float a, float b) {
    Sum2 s;
    s.a = a;
    s.b = b;
    return s;
}

__device__ __forceinline__ Sum2d sum2d(double a, double b) {
    Sum2d s;
    s.a = a;
    s.b = b;
    return s;
}

template <class T>
__device__ __forceinline__ SumsOf<T> warp_reduce(SumsOf<T> s) {
    for (int m = 16; m >= 1; m >>= 1) {
        s.a += __shfl_xor_sync(FULL_MASK, s.a, m);
        s.b += __shfl_xor_sync(FULL_MASK, s.b, m);
    }
    return s;
}

template <class T>
__device__ __forceinline__ SumsOf<T> reduce_identity(SumsOf<T>) {
    SumsOf<T> s;
    s.a = 0;
    s.b = 0;
    return s;
}

__device__ __forceinline__ Welford reduce_identity(Welford) {
    return welford_empty();
}

// The whole block's reduction of T (Welford or Sum2), returned to every thread: each warp reduces,
// then warp 0 reduces the warps' results in warp order. blockDim.x must be a multiple of 32.
template <class T>
__device__ __forceinline__ T block_reduce(T v) {
    STATIC_SHARED(T, partial, MAX_WARPS);  // the warps' results
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

// Flat index i over rows of S values, as digits a thread advances by its fixed stride without
// dividing per element: pos = i % S, and the row i / S as lo = row % M and hi = row / M (the
// channel and the sample for M = C; for M = 1, hi is the row). The divisions happen once, when the
// thread starts; each step is additions and two compares (each digit carries at most once, as a
// step's own digits are below their moduli).
struct RowCursor {
    i64 S, M;
    i64 pos, lo, hi;
    i64 stepPos, stepLo, stepHi;

    __device__ RowCursor(i64 i, i64 stride, i64 S_, i64 M_) : S(S_), M(M_) {
        i64 row = i / S;
        pos = i % S;
        lo = row % M;
        hi = row / M;
        i64 stepRow = stride / S;
        stepPos = stride % S;
        stepLo = stepRow % M;
        stepHi = stepRow / M;
    }

    __device__ __forceinline__ i64 row() const {
        return hi * M + lo;
    }

    __device__ __forceinline__ void advance() {
        pos += stepPos;
        int carry = pos >= S;
        if (carry) pos -= S;
        lo += stepLo + carry;
        hi += stepHi;
        if (lo >= M) {
            lo -= M;
            hi++;
        }
    }
};

// The affine parameter an element uses. Per-channel rows start on a channel boundary and hold
// `perRow` channels of S values; elementwise parameters are indexed by the position in the row.
struct Affine {
    In<float> w;
    In<float> b;
    int perChannel;
    i64 C;
    i64 S;
};

__device__ __forceinline__ i64 first_channel(const Affine& a, i64 row, i64 L) {
    return a.perChannel ? (row * (L / a.S)) % a.C : 0;
}

template <class P>
__device__ __forceinline__ float param_or(P p, i64 i, float otherwise) {
    return p ? p[i] : otherwise;
}

// The affine transform with parameter index p: the row's first channel plus the column's channel
// offset for per-channel rows, else the column.
__device__ __forceinline__ float affine_at(const Affine& a, float xhat, i64 p) {
    return xhat * param_or(a.w, p, 1.f) + param_or(a.b, p, 0.f);
}
