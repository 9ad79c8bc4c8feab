// cuda_emulation.h: the subset of CUDA the kernels use, for compiling them with g++ to run on the
// CPU emulator (emulator.cpp). Each CUDA thread of a block is a fiber; a block's fibers run on one
// OS thread, switching at __syncthreads, __syncwarp and warp shuffles, which are real barriers.
// Blocks run one after another, so __shared__ variables are function statics shared by a block;
// they live in the section emu_shared, which the emulator fills with NaN before every block.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static __attribute__((section("emu_shared")))
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x, y, z;
};

struct float2 {
    float x, y;
};

struct alignas(16) float4 {
    float x, y, z, w;
};

inline float2 make_float2(float x, float y) {
    return float2{x, y};
}

inline float4 make_float4(float x, float y, float z, float w) {
    return float4{x, y, z, w};
}

namespace emu {
extern thread_local dim3 thread_index;
extern thread_local dim3 block_index;
extern thread_local dim3 block_dim;
extern thread_local dim3 grid_dim;

void sync_block();
void sync_warp();
void* dynamic_shared();
// Exchanges 8-byte slots across the warp: every lane publishes `mine`, then reads lane `from`.
uint64_t exchange(uint64_t mine, int from);

template <class T>
T shuffle_from(T value, int from) {
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    uint64_t mine = 0;
    std::memcpy(&mine, &value, sizeof(T));
    uint64_t theirs = exchange(mine, from);
    T out;
    std::memcpy(&out, &theirs, sizeof(T));
    return out;
}
}  // namespace emu

#define threadIdx (emu::thread_index)
#define blockIdx (emu::block_index)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

#define DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(emu::dynamic_shared())

inline void __syncthreads() {
    emu::sync_block();
}

inline void __syncwarp(unsigned = 0xffffffffu) {
    emu::sync_warp();
}

template <class T>
T __shfl_xor_sync(unsigned, T value, int laneMask, int = 32) {
    return emu::shuffle_from(value, (int)(threadIdx.x & 31) ^ laneMask);
}

template <class T>
T __shfl_sync(unsigned, T value, int srcLane, int = 32) {
    return emu::shuffle_from(value, srcLane & 31);
}

inline float rsqrtf(float v) {
    return 1.0f / std::sqrt(v);
}

inline float __expf(float v) {
    return std::exp(v);
}
