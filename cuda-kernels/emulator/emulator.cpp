// emulator.cpp: runs jnorm's CUDA kernels on the CPU, for tests on machines without a GPU.
//
// A launch runs its blocks one after another, in the order the caller asks (forward, reverse or a
// seeded shuffle); a kernel with thread-block clusters runs one cluster at a time, its blocks
// together. The threads of a block (or cluster) are fibers on the calling OS thread. The scheduler
// lets one warp at a time run as far as it can, until all its threads wait at a barrier or are
// done, its lanes taking turns at each warp barrier; warps take their turns (a cluster's warps of
// every block among each other), and lanes theirs, in the order asked for (forward, reverse, or
// shuffled anew every round). __syncthreads, __syncwarp, warp shuffles and cluster_sync are real
// barriers. So a missing barrier shows up as a wrong result, or as a result that differs in another
// order: a warp that reads what another writes without a barrier between reads it too early in one
// order, and a warp that overwrites shared memory before another has read it runs ahead far enough
// to do so in one order. A barrier not every thread reaches is a reported deadlock.
//
// Memory: device buffers are host memory filled with NaN on allocation; shared memory, dynamic and
// static, is NaN before every block, and each block of a cluster has its own. A block that has
// exited has no shared memory: another block's access to it (through cluster_shared) faults.
// Kernels reach memory only through checked pointers (cuda_emulation.h): an access outside its
// buffer on either side, misaligned, or through a null pointer is the launch's fault. Global
// traffic is counted per launch as the footprint of its loads and of its stores (each byte once).
//
// Launch limits (threads, shared memory, registers, grid) are checked by the Java side,
// dev.jnorm.backend.cuda.internal.EmulatedDevice, which knows the emulated device's geometry and each
// kernel's resources; registry.h declares how kernels are registered with their argument types.
#include <jni.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "registry.h"

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace emu {

thread_local dim3 thread_index;
thread_local dim3 block_index;
thread_local dim3 block_dim;
thread_local dim3 grid_dim;
thread_local unsigned rank_index;  // the running block's rank in its cluster

std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> kernels;
    return kernels;
}

namespace {

constexpr size_t kStack = 128 * 1024;

// ---- fibers: a stack pointer each, switched by a few instructions (no system call) ----

#if defined(__x86_64__)
// Saves the callee-saved registers and the FP control words on the current stack, stores the stack
// pointer in *from, switches to `to` and restores the same from there.
extern "C" void emu_switch(void** from, void* to);
asm(R"(
.text
.p2align 4
.globl emu_switch
.hidden emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
)");

struct Context {
    void* sp = nullptr;
};

void start(Context& c, char* stack, size_t size, void (*entry)()) {
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    void** a = reinterpret_cast<void**>(top - 16);  // entry's return address; entry starts as if called
    a[0] = reinterpret_cast<void*>(entry);
    a[1] = nullptr;
    uint64_t* frame = reinterpret_cast<uint64_t*>(a) - 7;  // rbp rbx r12 r13 r14 r15, then the control words
    std::memset(frame, 0, 7 * sizeof(uint64_t));
    uint32_t mxcsr;
    uint16_t fpu;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpu));
    std::memcpy(frame, &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(frame) + 4, &fpu, 2);
    c.sp = frame;
}

void swap(Context& from, Context& to) {
    emu_switch(&from.sp, to.sp);
}
#else
struct Context {
    ucontext_t uc;
};

void start(Context& c, char* stack, size_t size, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}

void swap(Context& from, Context& to) {
    swapcontext(&from.uc, &to.uc);
}
#endif

enum class State { Runnable, AtBlockBarrier, AtWarpBarrier, AtClusterBarrier, Done };
enum Order : int { kForward = 0, kReverse = 1, kShuffle = 2 };

struct Fiber {
    Context context;
    State state;
    char* stack;
};

// The fibers that run together: the threads of one block, or of every block of a cluster (fiber
// rank·threads + t is thread t of the cluster's block `rank`).
struct Block {
    std::vector<Fiber> fibers;
    Context scheduler;
    int current = 0;
    int threads = 0;                  // per block
    int blocks = 1;                   // per cluster
    unsigned first = 0;               // the grid index of the cluster's block 0
    std::vector<int> arrivedAtBlock;  // by rank
    std::vector<int> finished;        // threads done, by rank
    int arrivedAtCluster = 0;
    std::vector<int> arrivedAtWarp;  // by rank·warps per block + warp
    std::vector<uint64_t> slots;     // by fiber
    const std::function<void()>* body = nullptr;

    int warpsPerBlock() const {
        return (threads + 31) / 32;
    }
};

thread_local Block* running = nullptr;

void yield_to_scheduler() {
    Fiber& f = running->fibers[running->current];
    swap(f.context, running->scheduler);
}

void release_shared(unsigned rank);

void fiber_entry() {
    (*running->body)();
    Fiber& f = running->fibers[running->current];
    f.state = State::Done;
    if (++running->finished[rank_index] == running->threads) release_shared(rank_index);
    swap(f.context, running->scheduler);  // never resumed
    std::abort();
}

// ---- memory: device buffers, shared memory, faults and traffic ----

std::mutex launches;  // one launch at a time: the state below belongs to it
std::mutex memoryLock;
std::map<uintptr_t, Region*> buffers;  // by start address

struct Traffic {
    uint64_t read = 0;
    uint64_t written = 0;
};

uint64_t epoch = 0;  // the current launch's
Traffic traffic;
std::string launchFault;
int faultKind = 0;               // as the Java side's launch result: 2 illegal address, 3 misaligned, 4 deadlock
std::vector<uint64_t*> bitmaps;  // footprint bitmaps to free with their region

// Shared memory of the current launch, one of each per block of a cluster: the dynamic region, and
// each static array's own region.
struct SharedArray {
    Region region;
    std::vector<unsigned char> bytes;
    size_t size = 0;
    const char* what = nullptr;

    void allocate(size_t n, size_t align, const char* kind) {
        bytes.assign(n + align, 0xFF);
        uintptr_t lo = ((uintptr_t)bytes.data() + align - 1) / align * align;
        size = n;
        what = kind;
        region = Region{lo, lo + n, false, kind, nullptr, nullptr, 0};
    }
    // Before a block runs: NaN, and its extent restored; once it has exited: no extent.
    void reset() {
        std::fill(bytes.begin(), bytes.end(), 0xFF);
        region.hi = region.lo + size;
        region.what = what;
    }
    void release() {
        region.hi = region.lo;
        region.what = "the shared memory of a block of the cluster that has exited";
    }
};
std::vector<SharedArray> dynamicShared;  // by rank
std::map<std::pair<const char*, size_t>, std::vector<SharedArray>> staticShared;
int clusterBlocks = 1;

size_t words(const Region& r) {
    return (r.hi - r.lo + 63) / 64;
}

std::string where_of(const Region* r, uintptr_t address, size_t bytes) {
    std::string where = "block " + std::to_string(block_index.x) + ", thread " + std::to_string(thread_index.x);
    if (r == nullptr) {
        return address == 0 ? "through a null pointer (" + where + ")"
                            : "at an address outside every buffer (" + where + ")";
    }
    long long offset = (long long)(address - r->lo);
    std::string s = "of " + std::to_string(bytes) + " bytes at byte offset " + std::to_string(offset) + " of " +
                    r->what + (r->hi > r->lo || r->global ? " of " + std::to_string(r->hi - r->lo) + " bytes" : "");
    if (address >= r->lo && address + bytes <= r->hi) s = "misaligned access " + s;
    return s + " (" + where + ")";
}

}  // namespace

void fault(const char* kind, const Region* r, uintptr_t address, size_t bytes) {
    if (!launchFault.empty()) return;
    launchFault = std::string("illegal ") + kind + " " + where_of(r, address, bytes);
    faultKind = r != nullptr && address >= r->lo && address + bytes <= r->hi ? 3 : 2;
}

void fault_space(const char* kind, const Region* r, uintptr_t address, size_t bytes) {
    if (!launchFault.empty()) return;
    launchFault = std::string("illegal ") + kind + " " + std::to_string(bytes) + " bytes at byte offset " +
                  std::to_string((long long)(address - r->lo)) + " of " + r->what + " of " +
                  std::to_string(r->hi - r->lo) + " bytes (block " + std::to_string(block_index.x) + ", thread " +
                  std::to_string(thread_index.x) + ")";
    faultKind = 2;
}

void footprint(Region* r, uintptr_t offset, size_t bytes, bool store) {
    if (r->epoch != epoch) {
        if (r->read == nullptr) {
            r->read = new uint64_t[words(*r)];
            r->written = new uint64_t[words(*r)];
        }
        std::memset(r->read, 0, words(*r) * 8);
        std::memset(r->written, 0, words(*r) * 8);
        r->epoch = epoch;
    }
    uint64_t* mine = store ? r->written : r->read;
    uint64_t added = 0;
    for (uintptr_t b = offset; b < offset + bytes;) {
        size_t w = b / 64;
        unsigned lo = b % 64;
        unsigned n = (unsigned)std::min<uintptr_t>(64 - lo, offset + bytes - b);
        uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
        uint64_t fresh = mask & ~mine[w];
        mine[w] |= mask;
        if (!store) fresh &= ~r->written[w];  // a read of what this launch wrote hits in cache
        added += __builtin_popcountll(fresh);
        b += n;
    }
    (store ? traffic.written : traffic.read) += added;
}

Region* region_of(uintptr_t address) {
    if (address == 0) return nullptr;
    std::lock_guard<std::mutex> guard(memoryLock);
    auto it = buffers.upper_bound(address);
    if (it == buffers.begin()) return nullptr;
    --it;
    Region* r = it->second;
    return address <= r->hi ? r : nullptr;  // one past the end is a valid pointer, not a valid access
}

Region* dynamic_shared_region() {
    return &dynamicShared[rank_index].region;
}

Region* static_shared_region(const char* site, size_t bytes, size_t align) {
    auto key = std::make_pair(site, bytes);
    auto it = staticShared.find(key);
    if (it == staticShared.end()) {
        std::vector<SharedArray>& copies = staticShared[key];
        copies.resize(clusterBlocks);  // never resized again: their regions stay where they are
        for (SharedArray& a : copies) a.allocate(bytes, align, "a static __shared__ array");
        return &copies[rank_index].region;
    }
    return &it->second[rank_index].region;
}

namespace {

void release_shared(unsigned rank) {
    dynamicShared[rank].release();
    for (auto& [key, copies] : staticShared) copies[rank].release();
}

// Runs one block, or the blocks of one cluster, to completion; throws on deadlock.
void run_cluster(Block& b, Order order, std::mt19937_64& random) {
    for (Fiber& f : b.fibers) {
        start(f.context, f.stack, kStack, fiber_entry);
        f.state = State::Runnable;
    }
    // Uninitialized shared memory, dynamic or static, reads as NaN.
    for (SharedArray& a : dynamicShared) a.reset();
    for (auto& [key, copies] : staticShared) {
        for (SharedArray& a : copies) a.reset();
    }
    std::fill(b.arrivedAtBlock.begin(), b.arrivedAtBlock.end(), 0);
    std::fill(b.finished.begin(), b.finished.end(), 0);
    std::fill(b.arrivedAtWarp.begin(), b.arrivedAtWarp.end(), 0);
    b.arrivedAtCluster = 0;
    int perBlock = b.warpsPerBlock();
    int warps = b.blocks * perBlock;
    std::vector<int> warpOrder(warps);
    std::vector<int> laneOrder(32);
    for (int w = 0; w < warps; w++) warpOrder[w] = order == kReverse ? warps - 1 - w : w;
    for (int l = 0; l < 32; l++) laneOrder[l] = order == kReverse ? 31 - l : l;
    while (true) {
        if (order == kShuffle) {
            std::shuffle(warpOrder.begin(), warpOrder.end(), random);
            std::shuffle(laneOrder.begin(), laneOrder.end(), random);
        }
        // Each warp in turn runs as far as it can (until its threads wait at a barrier or are
        // done), ahead of the warps after it, as a GPU may schedule it.
        bool ran = false;
        bool done = true;
        for (int g : warpOrder) {
            const int rank = g / perBlock;
            const int w = g % perBlock;
            for (bool progress = true; progress;) {
                progress = false;
                for (int l : laneOrder) {
                    int t = w * 32 + l;
                    int i = rank * b.threads + t;
                    if (t < b.threads && b.fibers[i].state == State::Runnable) {
                        b.current = i;
                        thread_index = dim3{(unsigned)t, 0, 0};
                        block_index = dim3{b.first + (unsigned)rank, 0, 0};
                        rank_index = (unsigned)rank;
                        swap(b.scheduler, b.fibers[i].context);
                        progress = ran = true;
                    }
                }
            }
        }
        for (const Fiber& f : b.fibers) done = done && f.state == State::Done;
        if (done) return;
        if (!ran) {
            int count[5] = {0, 0, 0, 0, 0};
            for (const Fiber& f : b.fibers) count[(int)f.state]++;
            std::string where = b.blocks == 1 ? "block " + std::to_string(b.first)
                                              : "the cluster of blocks " + std::to_string(b.first) + " to " +
                                                    std::to_string(b.first + b.blocks - 1);
            throw std::runtime_error(
                "deadlock in " + where + ": " + std::to_string(count[(int)State::AtBlockBarrier]) +
                " threads at __syncthreads, " + std::to_string(count[(int)State::AtWarpBarrier]) +
                " at a warp barrier, " +
                (b.blocks == 1 ? "" : std::to_string(count[(int)State::AtClusterBarrier]) + " at cluster_sync, ") +
                std::to_string(count[(int)State::Done]) + " finished");
        }
    }
}

// Runs a kernel body over a grid of clusters of `cluster` blocks (1: no clusters); returns an error
// message, or an empty string.
std::string launch(const std::function<void()>& body, int grid, int block, int cluster, int sharedBytes,
                   Order threadOrder, Order blockOrder, uint64_t seed) {
    static thread_local std::vector<char*> stacks;
    const int fibers = block * cluster;
    while ((int)stacks.size() < fibers) stacks.push_back(new char[kStack]);
    Block b;
    b.threads = block;
    b.blocks = cluster;
    b.fibers.resize(fibers);
    for (int i = 0; i < fibers; i++) b.fibers[i].stack = stacks[i];
    b.arrivedAtBlock.assign(cluster, 0);
    b.finished.assign(cluster, 0);
    b.arrivedAtWarp.assign(cluster * b.warpsPerBlock(), 0);
    b.slots.assign(fibers, 0);
    b.body = &body;
    clusterBlocks = cluster;
    dynamicShared.assign(cluster, SharedArray{});
    for (SharedArray& a : dynamicShared) a.allocate((size_t)sharedBytes, 16, "the launch's dynamic shared memory");
    staticShared.clear();
    block_dim = dim3{(unsigned)block, 1, 1};
    grid_dim = dim3{(unsigned)grid, 1, 1};
    std::mt19937_64 random(seed);
    const int clusters = grid / cluster;
    std::vector<int> order(clusters);
    for (int i = 0; i < clusters; i++) order[i] = blockOrder == kReverse ? clusters - 1 - i : i;
    if (blockOrder == kShuffle) std::shuffle(order.begin(), order.end(), random);
    Block* outer = running;
    running = &b;
    try {
        for (int i : order) {
            b.first = (unsigned)(i * cluster);
            run_cluster(b, threadOrder, random);
        }
    } catch (const std::exception& e) {
        running = outer;
        faultKind = 4;
        return e.what();
    }
    running = outer;
    return launchFault;
}

}  // namespace

void sync_block() {
    Block& b = *running;
    const int first = (int)rank_index * b.threads;
    if (++b.arrivedAtBlock[rank_index] == b.threads) {
        b.arrivedAtBlock[rank_index] = 0;
        for (int i = first; i < first + b.threads; i++) {
            if (b.fibers[i].state == State::AtBlockBarrier) b.fibers[i].state = State::Runnable;
        }
        return;
    }
    b.fibers[b.current].state = State::AtBlockBarrier;
    yield_to_scheduler();
}

void sync_cluster() {
    Block& b = *running;
    if (++b.arrivedAtCluster == (int)b.fibers.size()) {
        b.arrivedAtCluster = 0;
        for (Fiber& f : b.fibers) {
            if (f.state == State::AtClusterBarrier) f.state = State::Runnable;
        }
        return;
    }
    b.fibers[b.current].state = State::AtClusterBarrier;
    yield_to_scheduler();
}

unsigned cluster_rank() {
    return rank_index;
}

Region* cluster_region(Region* r, unsigned rank) {
    auto refuse = [](const std::string& why) {
        if (launchFault.empty()) {
            launchFault = "illegal address: cluster_shared " + why + " (block " + std::to_string(block_index.x) +
                          ", thread " + std::to_string(thread_index.x) + ")";
            faultKind = 2;
        }
        return nullptr;
    };
    if (rank >= (unsigned)clusterBlocks) {
        return refuse("of rank " + std::to_string(rank) + " in a cluster of " + std::to_string(clusterBlocks) +
                      " blocks");
    }
    for (SharedArray& a : dynamicShared) {
        if (&a.region == r) return &dynamicShared[rank].region;
    }
    for (auto& [key, copies] : staticShared) {
        for (SharedArray& a : copies) {
            if (&a.region == r) return &copies[rank].region;
        }
    }
    return refuse("of a pointer that is not into shared memory");
}

void sync_warp() {
    Block& b = *running;
    const int t = b.current - (int)rank_index * b.threads;  // the thread in its block
    const int first = b.current - t + t / 32 * 32;          // the fiber of its warp's lane 0
    const int warp = (int)rank_index * b.warpsPerBlock() + t / 32;
    const int lanes = std::min(32, b.threads - t / 32 * 32);
    if (++b.arrivedAtWarp[warp] == lanes) {
        b.arrivedAtWarp[warp] = 0;
        for (int i = first; i < first + lanes; i++) {
            if (b.fibers[i].state == State::AtWarpBarrier) b.fibers[i].state = State::Runnable;
        }
        return;
    }
    b.fibers[b.current].state = State::AtWarpBarrier;
    yield_to_scheduler();
}

uint64_t exchange(uint64_t mine, int from) {
    Block& b = *running;
    const int lane0 = b.current - (int)(thread_index.x & 31);  // the fiber of the warp's lane 0
    b.slots[b.current] = mine;
    sync_warp();
    uint64_t theirs = b.slots[lane0 + from];
    sync_warp();
    return theirs;
}

}  // namespace emu

// ---------------------------------------------------------------- JNI: dev.jnorm.backend.cuda.internal.EmulatedDevice

namespace {

void throw_java(JNIEnv* env, const std::string& message) {
    env->ThrowNew(env->FindClass("java/lang/IllegalStateException"), message.c_str());
}

// The buffer [address, address + bytes) lies in, for host copies; throws into Java when none.
bool host_range(JNIEnv* env, jlong address, jlong bytes, const char* what) {
    emu::Region* r = emu::region_of((uintptr_t)address);
    if (r == nullptr || (uintptr_t)address + (uintptr_t)bytes > r->hi) {
        throw_java(env, std::string(what) + " of " + std::to_string(bytes) + " bytes outside every buffer");
        return false;
    }
    return true;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_allocate0(JNIEnv*, jclass, jlong bytes) {
    size_t size = (size_t)bytes;
    size_t rounded = (std::max<size_t>(size, 1) + 255) / 256 * 256;
    void* m = std::aligned_alloc(256, rounded);
    if (m == nullptr) return 0;
    std::memset(m, 0xFF, rounded);
    uintptr_t lo = (uintptr_t)m;
    std::lock_guard<std::mutex> guard(emu::memoryLock);
    emu::buffers[lo] = new emu::Region{lo, lo + size, true, "a device buffer", nullptr, nullptr, 0};
    return (jlong)lo;
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_release(JNIEnv* env, jclass, jlong address) {
    std::lock_guard<std::mutex> guard(emu::memoryLock);
    auto it = emu::buffers.find((uintptr_t)address);
    if (it == emu::buffers.end()) {
        throw_java(env, "release of an address that is not an allocation");
        return;
    }
    emu::Region* r = it->second;
    delete[] r->read;
    delete[] r->written;
    std::free(reinterpret_cast<void*>(r->lo));
    delete r;
    emu::buffers.erase(it);
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_fill32(JNIEnv* env, jclass, jlong address,
                                                                                  jint bits, jlong count) {
    if (!host_range(env, address, 4 * count, "fill")) return;
    uint32_t* p = reinterpret_cast<uint32_t*>((uintptr_t)address);
    for (jlong i = 0; i < count; i++) p[i] = (uint32_t)bits;
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_upload(JNIEnv* env, jclass, jlong address,
                                                                                  jfloatArray src, jint offset,
                                                                                  jint count) {
    if (!host_range(env, address, 4L * count, "upload")) return;
    env->GetFloatArrayRegion(src, offset, count, reinterpret_cast<jfloat*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_download(JNIEnv* env, jclass, jlong address,
                                                                                    jfloatArray dst, jint offset,
                                                                                    jint count) {
    if (!host_range(env, address, 4L * count, "download")) return;
    env->SetFloatArrayRegion(dst, offset, count, reinterpret_cast<const jfloat*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_fill16(JNIEnv* env, jclass, jlong address,
                                                                                  jshort bits, jlong count) {
    if (!host_range(env, address, 2 * count, "fill")) return;
    uint16_t* p = reinterpret_cast<uint16_t*>((uintptr_t)address);
    for (jlong i = 0; i < count; i++) p[i] = (uint16_t)bits;
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_upload16(JNIEnv* env, jclass, jlong address,
                                                                                    jshortArray src, jint offset,
                                                                                    jint count) {
    if (!host_range(env, address, 2L * count, "upload")) return;
    env->GetShortArrayRegion(src, offset, count, reinterpret_cast<jshort*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_download16(JNIEnv* env, jclass,
                                                                                      jlong address, jshortArray dst,
                                                                                      jint offset, jint count) {
    if (!host_range(env, address, 2L * count, "download")) return;
    env->SetShortArrayRegion(dst, offset, count, reinterpret_cast<const jshort*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_copy(JNIEnv* env, jclass, jlong dst,
                                                                                jlong src, jlong bytes) {
    if (!host_range(env, dst, bytes, "copy") || !host_range(env, src, bytes, "copy")) return;
    std::memmove(reinterpret_cast<void*>((uintptr_t)dst), reinterpret_cast<const void*>((uintptr_t)src), (size_t)bytes);
}

// Runs a kernel; returns null, or the launch's error (an argument mismatch, a deadlock, a memory
// fault). result receives the bytes the launch read and wrote, and what happened: 0 it ran, 1 it
// was refused (the arguments do not match the kernel), 2 an illegal address, 3 a misaligned
// access, 4 a deadlock.
JNIEXPORT jstring JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_launch(
    JNIEnv* env, jclass, jstring kernel, jint grid, jint block, jint cluster, jint sharedBytes, jlongArray args,
    jintArray tags, jint threadOrder, jint blockOrder, jlong seed, jlongArray result) {
    const char* chars = env->GetStringUTFChars(kernel, nullptr);
    std::string name(chars);
    env->ReleaseStringUTFChars(kernel, chars);
    auto it = emu::registry().find(name);
    jlong outcome[3] = {0, 0, 1};
    if (it == emu::registry().end()) {
        env->SetLongArrayRegion(result, 0, 3, outcome);
        return env->NewStringUTF(("no kernel named " + name).c_str());
    }
    jsize n = env->GetArrayLength(args);
    std::vector<int64_t> values(n);
    std::vector<int> kinds(n);
    env->GetLongArrayRegion(args, 0, n, reinterpret_cast<jlong*>(values.data()));
    env->GetIntArrayRegion(tags, 0, n, reinterpret_cast<jint*>(kinds.data()));
    const emu::Kernel& k = it->second;
    if (kinds != k.tags) {
        env->SetLongArrayRegion(result, 0, 3, outcome);
        return env->NewStringUTF(("arguments of " + name + " do not match its parameters: " + emu::describe(kinds) +
                                  " given, " + emu::describe(k.tags) + " expected")
                                     .c_str());
    }
    std::string error;
    {
        std::lock_guard<std::mutex> turn(emu::launches);
        emu::epoch++;
        emu::traffic = emu::Traffic{};
        emu::launchFault.clear();
        emu::faultKind = 0;
        std::function<void()> body = [&]() { k.call(values.data()); };
        error = emu::launch(body, grid, block, cluster, sharedBytes, (emu::Order)threadOrder, (emu::Order)blockOrder,
                            (uint64_t)seed);
        outcome[0] = (jlong)emu::traffic.read;
        outcome[1] = (jlong)emu::traffic.written;
        outcome[2] = emu::faultKind;
    }
    env->SetLongArrayRegion(result, 0, 3, outcome);
    return error.empty() ? nullptr : env->NewStringUTF((name + ": " + error).c_str());
}

// The kinds of a registered kernel's parameters (1 pointer, 2 int, 3 long long, 4 float), or null.
JNIEXPORT jintArray JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_kernelSignature(JNIEnv* env, jclass,
                                                                                                jstring kernel) {
    const char* chars = env->GetStringUTFChars(kernel, nullptr);
    std::string name(chars);
    env->ReleaseStringUTFChars(kernel, chars);
    auto it = emu::registry().find(name);
    if (it == emu::registry().end()) return nullptr;
    const std::vector<int>& tags = it->second.tags;
    jintArray out = env->NewIntArray((jsize)tags.size());
    env->SetIntArrayRegion(out, 0, (jsize)tags.size(), reinterpret_cast<const jint*>(tags.data()));
    return out;
}

JNIEXPORT jobjectArray JNICALL Java_dev_jnorm_backend_cuda_internal_EmulatedDevice_kernelNames(JNIEnv* env, jclass) {
    auto& r = emu::registry();
    jobjectArray out = env->NewObjectArray((jsize)r.size(), env->FindClass("java/lang/String"), nullptr);
    jsize i = 0;
    for (auto& [name, k] : r) env->SetObjectArrayElement(out, i++, env->NewStringUTF(name.c_str()));
    return out;
}

}  // extern "C"
