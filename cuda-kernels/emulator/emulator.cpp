// emulator.cpp: runs jnorm's CUDA kernels on the CPU, for tests on machines without a GPU.
//
// A launch runs its blocks one after another. The threads of a block are fibers (ucontext) on the
// calling OS thread, scheduled round-robin; __syncthreads, __syncwarp and warp shuffles are real
// barriers, so a missing barrier shows up as a wrong result and a barrier not every thread reaches
// as a reported deadlock. Device memory is host memory: each buffer is filled with NaN on
// allocation, sits 256-byte aligned right before an inaccessible page, and the NaN canary between
// its end and that page is checked after every launch to catch writes past the end.
//
// The Java side is dev.jnorm.backend.cuda.EmulatedDevice (test sources); registry.h declares how
// kernels are registered with their argument types.
#include "registry.h"

#include <jni.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace emu {

thread_local dim3 thread_index;
thread_local dim3 block_index;
thread_local dim3 block_dim;
thread_local dim3 grid_dim;

std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> kernels;
    return kernels;
}

namespace {

constexpr size_t kStack = 256 * 1024;
constexpr size_t kAlign = 256;
constexpr size_t kCanary = 64;  // at least this many guarded bytes after every buffer

enum class State { Runnable, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
    ucontext_t context;
    State state;
    char* stack;
};

struct Block {
    std::vector<Fiber> fibers;
    ucontext_t scheduler;
    int current = 0;
    int arrivedAtBlock = 0;
    std::vector<int> arrivedAtWarp;
    std::vector<uint64_t> slots;
    std::vector<unsigned char> shared;
    const std::function<void()>* body = nullptr;
};

thread_local Block* running = nullptr;

// The kernels' static __shared__ variables (cuda_emulation.h), bounded by the linker. They are
// global, so launches take turns.
extern "C" unsigned char __start_emu_shared[];
extern "C" unsigned char __stop_emu_shared[];
std::mutex launches;

void yield_to_scheduler() {
    Fiber& f = running->fibers[running->current];
    swapcontext(&f.context, &running->scheduler);
}

void fiber_entry() {
    (*running->body)();
    running->fibers[running->current].state = State::Done;
}

// Runs one block to completion; throws on deadlock.
void run_block(Block& b) {
    for (size_t i = 0; i < b.fibers.size(); i++) {
        Fiber& f = b.fibers[i];
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack;
        f.context.uc_stack.ss_size = kStack;
        f.context.uc_link = &b.scheduler;
        makecontext(&f.context, fiber_entry, 0);
        f.state = State::Runnable;
    }
    // Uninitialized shared memory, dynamic or static, reads as NaN.
    std::fill(b.shared.begin(), b.shared.end(), 0xFF);
    std::fill(__start_emu_shared, __stop_emu_shared, 0xFF);
    b.arrivedAtBlock = 0;
    std::fill(b.arrivedAtWarp.begin(), b.arrivedAtWarp.end(), 0);
    while (true) {
        bool ran = false;
        bool done = true;
        for (size_t i = 0; i < b.fibers.size(); i++) {
            if (b.fibers[i].state == State::Runnable) {
                b.current = (int)i;
                thread_index = dim3{(unsigned)i, 0, 0};
                swapcontext(&b.scheduler, &b.fibers[i].context);
                ran = true;
            }
            done = done && b.fibers[i].state == State::Done;
        }
        if (done) return;
        if (!ran) {
            int atBlock = 0;
            int atWarp = 0;
            int finished = 0;
            for (const Fiber& f : b.fibers) {
                atBlock += f.state == State::AtBlockBarrier;
                atWarp += f.state == State::AtWarpBarrier;
                finished += f.state == State::Done;
            }
            throw std::runtime_error("deadlock in block " + std::to_string(block_index.x) + ": " +
                                     std::to_string(atBlock) + " threads at __syncthreads, " +
                                     std::to_string(atWarp) + " at a warp barrier, " + std::to_string(finished) +
                                     " finished");
        }
    }
}

// ---- device memory ----

struct Allocation {
    char* mapping;
    size_t mapped;
    size_t bytes;
    size_t rounded;
};

std::mutex memoryLock;
std::map<uintptr_t, Allocation> allocations;

size_t page_size() {
    static size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}

size_t round_up(size_t v, size_t to) {
    return (v + to - 1) / to * to;
}

// The first damaged canary byte past any buffer's end, described; empty if none.
std::string check_canaries() {
    std::lock_guard<std::mutex> guard(memoryLock);
    for (auto& [address, a] : allocations) {
        unsigned char* p = reinterpret_cast<unsigned char*>(address);
        for (size_t i = a.bytes; i < a.rounded; i++) {
            if (p[i] != 0xFF) {
                std::memset(p + a.bytes, 0xFF, a.rounded - a.bytes);
                return "out-of-bounds write at byte " + std::to_string(i - a.bytes) + " past the end of a buffer of " +
                       std::to_string(a.bytes) + " bytes";
            }
        }
    }
    return "";
}

}  // namespace

void sync_block() {
    Block& b = *running;
    if (++b.arrivedAtBlock == (int)b.fibers.size()) {
        b.arrivedAtBlock = 0;
        for (Fiber& f : b.fibers) {
            if (f.state == State::AtBlockBarrier) f.state = State::Runnable;
        }
        return;
    }
    b.fibers[b.current].state = State::AtBlockBarrier;
    yield_to_scheduler();
}

void sync_warp() {
    Block& b = *running;
    int warp = b.current / 32;
    if (++b.arrivedAtWarp[warp] == 32) {
        b.arrivedAtWarp[warp] = 0;
        for (int i = warp * 32; i < warp * 32 + 32; i++) {
            if (b.fibers[i].state == State::AtWarpBarrier) b.fibers[i].state = State::Runnable;
        }
        return;
    }
    b.fibers[b.current].state = State::AtWarpBarrier;
    yield_to_scheduler();
}

uint64_t exchange(uint64_t mine, int from) {
    Block& b = *running;
    int warp = b.current / 32;
    b.slots[warp * 32 + (b.current & 31)] = mine;
    sync_warp();
    uint64_t theirs = b.slots[warp * 32 + from];
    sync_warp();
    return theirs;
}

void* dynamic_shared() {
    return running->shared.data();
}

// Runs a kernel body over a grid; returns an error message, or an empty string.
std::string launch(const std::function<void()>& body, int grid, int block, int sharedBytes) {
    if (grid < 1) return "launch with an empty grid";
    if (block < 32 || block > 1024 || block % 32 != 0) {
        return "block size " + std::to_string(block) + " is not a multiple of 32 in [32, 1024]";
    }
    std::lock_guard<std::mutex> turn(launches);
    static thread_local std::vector<char*> stacks;
    while ((int)stacks.size() < block) stacks.push_back(new char[kStack]);
    Block b;
    b.fibers.resize(block);
    for (int i = 0; i < block; i++) b.fibers[i].stack = stacks[i];
    b.arrivedAtWarp.assign(block / 32, 0);
    b.slots.assign(block, 0);
    b.shared.assign(round_up((size_t)sharedBytes, 16) + 16, 0xFF);
    b.body = &body;
    block_dim = dim3{(unsigned)block, 1, 1};
    grid_dim = dim3{(unsigned)grid, 1, 1};
    Block* outer = running;
    running = &b;
    try {
        for (int i = 0; i < grid; i++) {
            block_index = dim3{(unsigned)i, 0, 0};
            run_block(b);
        }
    } catch (const std::exception& e) {
        running = outer;
        return e.what();
    }
    running = outer;
    return check_canaries();
}

}  // namespace emu

// ---------------------------------------------------------------- JNI: dev.jnorm.backend.cuda.EmulatedDevice

namespace {

void throw_java(JNIEnv* env, const std::string& message) {
    env->ThrowNew(env->FindClass("java/lang/IllegalStateException"), message.c_str());
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_allocate0(JNIEnv* env, jclass, jlong bytes) {
    using namespace emu;
    size_t size = (size_t)bytes;
    size_t rounded = round_up(size + kCanary, kAlign);
    size_t mapped = round_up(rounded, page_size()) + page_size();
    void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 0;
    char* mapping = static_cast<char*>(m);
    mprotect(mapping + mapped - page_size(), page_size(), PROT_NONE);
    char* user = mapping + mapped - page_size() - rounded;
    std::memset(user, 0xFF, rounded);
    std::lock_guard<std::mutex> guard(memoryLock);
    allocations[reinterpret_cast<uintptr_t>(user)] = Allocation{mapping, mapped, size, rounded};
    (void)env;
    return (jlong) reinterpret_cast<uintptr_t>(user);
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_release(JNIEnv* env, jclass, jlong address) {
    using namespace emu;
    std::lock_guard<std::mutex> guard(memoryLock);
    auto it = allocations.find((uintptr_t)address);
    if (it == allocations.end()) {
        throw_java(env, "release of an address that is not an allocation");
        return;
    }
    munmap(it->second.mapping, it->second.mapped);
    allocations.erase(it);
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_fill32(JNIEnv*, jclass, jlong address, jint bits,
                                                                          jlong count) {
    uint32_t* p = reinterpret_cast<uint32_t*>((uintptr_t)address);
    for (jlong i = 0; i < count; i++) p[i] = (uint32_t)bits;
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_upload(JNIEnv* env, jclass, jlong address,
                                                                          jfloatArray src, jint offset, jint count) {
    env->GetFloatArrayRegion(src, offset, count, reinterpret_cast<jfloat*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_download(JNIEnv* env, jclass, jlong address,
                                                                            jfloatArray dst, jint offset, jint count) {
    env->SetFloatArrayRegion(dst, offset, count, reinterpret_cast<const jfloat*>((uintptr_t)address));
}

JNIEXPORT void JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_copy(JNIEnv*, jclass, jlong dst, jlong src,
                                                                        jlong bytes) {
    std::memmove(reinterpret_cast<void*>((uintptr_t)dst), reinterpret_cast<const void*>((uintptr_t)src),
                 (size_t)bytes);
}

JNIEXPORT jstring JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_launch(JNIEnv* env, jclass, jstring kernel,
                                                                             jint grid, jint block, jint sharedBytes,
                                                                             jlongArray args, jintArray tags) {
    const char* chars = env->GetStringUTFChars(kernel, nullptr);
    std::string name(chars);
    env->ReleaseStringUTFChars(kernel, chars);
    auto it = emu::registry().find(name);
    if (it == emu::registry().end()) return env->NewStringUTF(("no kernel named " + name).c_str());
    jsize n = env->GetArrayLength(args);
    std::vector<int64_t> values(n);
    std::vector<int> kinds(n);
    env->GetLongArrayRegion(args, 0, n, reinterpret_cast<jlong*>(values.data()));
    env->GetIntArrayRegion(tags, 0, n, reinterpret_cast<jint*>(kinds.data()));
    const emu::Kernel& k = it->second;
    if (kinds != k.tags) {
        return env->NewStringUTF(("arguments of " + name + " do not match its parameters: " +
                                  emu::describe(kinds) + " given, " + emu::describe(k.tags) + " expected")
                                     .c_str());
    }
    std::function<void()> body = [&]() { k.call(values.data()); };
    std::string error = emu::launch(body, grid, block, sharedBytes);
    return error.empty() ? nullptr : env->NewStringUTF((name + ": " + error).c_str());
}

JNIEXPORT jobjectArray JNICALL Java_dev_jnorm_backend_cuda_EmulatedDevice_kernelNames(JNIEnv* env, jclass) {
    auto& r = emu::registry();
    jobjectArray out = env->NewObjectArray((jsize)r.size(), env->FindClass("java/lang/String"), nullptr);
    jsize i = 0;
    for (auto& [name, k] : r) env->SetObjectArrayElement(out, i++, env->NewStringUTF(name.c_str()));
    return out;
}

}  // extern "C"
