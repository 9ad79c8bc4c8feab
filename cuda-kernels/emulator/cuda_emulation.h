// cuda_emulation.h: the subset of CUDA the kernels use, for compiling them with g++ to run on the
// CPU emulator (emulator.cpp). Each CUDA thread of a block is a fiber; a block's fibers run on one
// OS thread, switching at __syncthreads, __syncwarp and warp shuffles, which are real barriers.
//
// Memory is reached only through emu::Ptr (In<T>, Out<T>, DYNAMIC_SHARED and STATIC_SHARED in
// common.cuh): a pointer that knows the buffer (Region) it points into. Every load and store is
// checked against both ends of that buffer and against the access's alignment; a bad access is
// recorded as the launch's fault (reported like an illegal address on a GPU), reads nothing (NaN
// bits) and writes nothing. Global loads and stores are also counted: the bytes of each buffer a
// launch reads, and those it writes, each byte once per launch (its footprint, as DRAM sees a
// kernel whose re-reads hit in cache).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __cluster_dims__(...)
#define __restrict__

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

struct alignas(16) uint4 {
    unsigned int x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) {
    return float4{x, y, z, w};
}

namespace emu {
extern thread_local dim3 thread_index;
extern thread_local dim3 block_index;
extern thread_local dim3 block_dim;
extern thread_local dim3 grid_dim;

// A buffer accesses are checked against: a device allocation, or a block's shared memory.
struct Region {
    uintptr_t lo;
    uintptr_t hi;
    bool global;  // device memory, whose traffic is counted
    const char* what;
    // The launch's footprint, one bit per byte: read, and written. Valid while epoch is the launch's.
    uint64_t* read;
    uint64_t* written;
    uint64_t epoch;
};

// Records a bad access as the launch's fault (the first one is kept).
void fault(const char* kind, const Region* r, uintptr_t address, size_t bytes);
// Records a vector access to the wrong memory space (an illegal address on a GPU) as the launch's fault.
void fault_space(const char* kind, const Region* r, uintptr_t address, size_t bytes);
// Adds [offset, offset + bytes) of r to the launch's read or written footprint.
void footprint(Region* r, uintptr_t offset, size_t bytes, bool store);

inline bool access(Region* r, uintptr_t address, size_t bytes, size_t align, bool store) {
    if (r == nullptr || address < r->lo || address + bytes > r->hi || address % align != 0) {
        fault(store ? "write" : "read", r, address, bytes);
        return false;
    }
    if (r->global) footprint(r, address - r->lo, bytes, store);
    return true;
}

// The memory a vector access names: ld.global or st.global on shared memory, or ld.shared or
// st.shared on device memory, is an illegal address on a GPU.
enum class Space { GLOBAL, SHARED };

inline bool in_space(Region* r, uintptr_t address, size_t bytes, Space space, bool store) {
    if (r != nullptr && r->global != (space == Space::GLOBAL)) {
        const char* kind = space == Space::GLOBAL
                               ? (store ? "st.global.v4 to shared memory:" : "ld.global.v4 from shared memory:")
                               : (store ? "st.shared.v4 to device memory:" : "ld.shared.v4 from device memory:");
        fault_space(kind, r, address, bytes);
        return false;
    }
    return true;
}

template <class T>
T poison() {
    T v;
    std::memset(&v, 0xFF, sizeof v);
    return v;
}

template <class T>
class Ptr;

// The element a writable Ptr designates: reads and writes go through the checks.
template <class T>
class Ref {
  public:
    Ref(Region* r, uintptr_t a) : r_(r), a_(a) {}
    operator T() const {
        return access(r_, a_, sizeof(T), alignof(T), false) ? *reinterpret_cast<const T*>(a_) : poison<T>();
    }
    const Ref& operator=(const T& v) const {
        if (access(r_, a_, sizeof(T), alignof(T), true)) *reinterpret_cast<T*>(a_) = v;
        return *this;
    }
    const Ref& operator=(const Ref& other) const {
        return *this = static_cast<T>(other);
    }
    const Ref& operator+=(const T& v) const {
        return *this = static_cast<T>(*this) + v;
    }
    const Ref& operator-=(const T& v) const {
        return *this = static_cast<T>(*this) - v;
    }

  private:
    Region* r_;
    uintptr_t a_;
};

template <class T>
class Ptr {
  public:
    using Element = std::remove_const_t<T>;

    Ptr() : r_(nullptr), a_(0) {}
    Ptr(Region* r, uintptr_t a) : r_(r), a_(a) {}
    template <class U, class = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    Ptr(const Ptr<U>& other) : r_(other.region()), a_(other.address()) {}

    Region* region() const {
        return r_;
    }
    uintptr_t address() const {
        return a_;
    }
    explicit operator bool() const {
        return a_ != 0;
    }
    Ptr operator+(long long k) const {
        return Ptr(r_, a_ + (uintptr_t)(k * (long long)sizeof(T)));
    }
    Ptr operator-(long long k) const {
        return *this + (-k);
    }

    // Const elements read as values; writable ones as references.
    auto operator[](long long k) const {
        uintptr_t a = a_ + (uintptr_t)(k * (long long)sizeof(T));
        if constexpr (std::is_const_v<T>) {
            return access(r_, a, sizeof(T), alignof(T), false) ? *reinterpret_cast<const T*>(a) : poison<Element>();
        } else {
            return Ref<T>(r_, a);
        }
    }

    // A vector V of elements from element k on, checked for V's size and alignment (a misaligned
    // vector access faults on a GPU).
    template <class V>
    V load(long long k, Space space) const {
        uintptr_t a = a_ + (uintptr_t)(k * (long long)sizeof(T));
        return in_space(r_, a, sizeof(V), space, false) && access(r_, a, sizeof(V), alignof(V), false)
                   ? *reinterpret_cast<const V*>(a)
                   : poison<V>();
    }
    template <class V>
    void store(long long k, const V& v, Space space) const {
        static_assert(!std::is_const_v<T>, "store through a read-only pointer");
        uintptr_t a = a_ + (uintptr_t)(k * (long long)sizeof(T));
        if (in_space(r_, a, sizeof(V), space, true) && access(r_, a, sizeof(V), alignof(V), true)) {
            *reinterpret_cast<V*>(a) = v;
        }
    }

  private:
    Region* r_;
    uintptr_t a_;
};

// Vector accesses name their memory space, as the instructions they compile to do: load4 and
// store4 (ld.global.nc.v4, st.global.v4) fault on shared memory, shared_load4 and shared_store4 on
// device memory.
template <class T>
float4 load4(const Ptr<T>& p, long long i) {
    return p.template load<float4>(i, Space::GLOBAL);
}

template <class T>
void store4(const Ptr<T>& p, long long i, float4 v) {
    p.template store<float4>(i, v, Space::GLOBAL);
}

// 16 bytes of any element type (eight 16-bit values), as ld.global.nc.v4.u32 and st.global.v4.u32.
template <class T>
uint4 load16(const Ptr<T>& p, long long i) {
    return p.template load<uint4>(i, Space::GLOBAL);
}

template <class T>
void store16(const Ptr<T>& p, long long i, uint4 v) {
    p.template store<uint4>(i, v, Space::GLOBAL);
}

template <class T>
float4 shared_load4(const Ptr<T>& p, long long i) {
    return p.template load<float4>(i, Space::SHARED);
}

template <class T>
void shared_store4(const Ptr<T>& p, long long i, float4 v) {
    p.template store<float4>(i, v, Space::SHARED);
}

void sync_block();
void sync_warp();
// The launch's dynamic shared memory, and a block's static __shared__ array declared at `site`.
Region* dynamic_shared_region();
Region* static_shared_region(const char* site, size_t bytes, size_t align);

template <class T>
Ptr<T> dynamic_shared() {
    Region* r = dynamic_shared_region();
    return Ptr<T>(r, r->lo);
}

template <class T>
Ptr<T> static_shared(const char* site, size_t count) {
    Region* r = static_shared_region(site, count * sizeof(T), alignof(T) < 16 ? 16 : alignof(T));
    return Ptr<T>(r, r->lo);
}

// Thread-block clusters: the blocks of a cluster run together, each with its own shared memory.
// sync_cluster is a barrier for every thread of the cluster; cluster_region is region r (shared
// memory of the calling block) as block `rank` of the cluster has it, or null after recording a
// fault (r is not shared memory, or no such rank).
void sync_cluster();
unsigned cluster_rank();
Region* cluster_region(Region* r, unsigned rank);

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

inline unsigned cluster_rank() {
    return emu::cluster_rank();
}

inline void cluster_sync() {
    emu::sync_cluster();
}

// p's address in the shared memory of block `rank` of the cluster (distributed shared memory).
template <class T>
emu::Ptr<T> cluster_shared(const emu::Ptr<T>& p, unsigned rank) {
    emu::Region* r = emu::cluster_region(p.region(), rank);
    return r == nullptr ? emu::Ptr<T>() : emu::Ptr<T>(r, r->lo + (p.address() - p.region()->lo));
}

inline float rsqrtf(float v) {
    return 1.0f / std::sqrt(v);
}

inline float __expf(float v) {
    return std::exp(v);
}
