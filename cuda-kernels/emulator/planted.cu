// planted.cu: kernels with planted defects, one for each kind of error the emulator is built to
// catch and that a plain CPU run of the kernels would miss. Compiled into the emulator only (never
// into PTX); dev.jnorm.backend.cuda.EmulatorCatchesPlantedDefectsTest launches each and expects the
// emulator to report it.
#include "../common.cuh"

// Reads the element before the buffer (thread 0 reads x[-1]).
KERNEL planted_read_before_start(In<float> x, Out<float> y, i64 n) {
    GRID_STRIDE(i, n) y[i] = x[i - 1] + 1.f;
}

// Reads the element after the buffer (the last thread reads x[n]).
KERNEL planted_read_past_end(In<float> x, Out<float> y, i64 n) {
    GRID_STRIDE(i, n) y[i] = x[i + 1] + 1.f;
}

// Writes the element before the buffer.
KERNEL planted_write_before_start(Out<float> y, i64 n) {
    GRID_STRIDE(i, n) y[i - 1] = 1.f;
}

// Uses one more float of dynamic shared memory than the launch gives (count floats).
KERNEL planted_shared_past_launch_size(Out<float> y, int count) {
    DYNAMIC_SHARED(float, cache);
    if ((int)threadIdx.x <= count) cache[threadIdx.x] = 1.f;
    __syncthreads();
    if (threadIdx.x == 0) y[0] = cache[0];
}

// Indexes a static __shared__ array of 32 floats with a block of 64 threads.
KERNEL planted_static_shared_overrun(Out<float> y) {
    STATIC_SHARED(float, s, 32);
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

// A 16-byte load from a 4-byte aligned address (a misaligned address on a GPU).
KERNEL planted_misaligned_vector(In<float> x, Out<float> y) {
    if (threadIdx.x == 0) store4(y, 0, load4(x, 1));
}

// A global vector load (ld.global.nc.v4) of a shared-memory address: an illegal address on a GPU.
KERNEL planted_global_load_of_shared(In<float> x, Out<float> y) {
    STATIC_SHARED(float, s, 4);
    if (threadIdx.x < 4) s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) store4(y, 0, load4(s, 0));
}

// Each thread reads its lower neighbour's value without the barrier after the writes: right only
// when lower threads happen to run first.
KERNEL planted_missing_barrier(Out<float> y) {
    STATIC_SHARED(float, s, BIG_BLOCK);
    s[threadIdx.x] = (float)threadIdx.x;
    // __syncthreads() belongs here
    y[threadIdx.x] = threadIdx.x == 0 ? 0.f : s[threadIdx.x - 1];
}

// Each warp publishes a value, and every thread reads warp 0's, twice over, without the barrier
// between the reads and the next round's writes: a warp that runs ahead overwrites slot 0 before the
// others have read it. (block_reduce without its last __syncthreads, reused in a loop.)
KERNEL planted_overwrite_before_read(Out<float> y) {
    STATIC_SHARED(float, slot, MAX_WARPS);
    float sum = 0.f;
    for (int round = 0; round < 2; round++) {
        if ((threadIdx.x & 31) == 0) slot[threadIdx.x >> 5] = (float)(100 * round);
        __syncthreads();
        sum += slot[0];
        // __syncthreads() belongs here: slot[] is written again in the next round
    }
    y[threadIdx.x] = sum;
}

// Every thread of every block writes the same element: which write lands depends on the order.
KERNEL planted_write_write_race(Out<float> y) {
    y[0] = (float)(blockIdx.x * blockDim.x + threadIdx.x);
}

// Block b reads what block b − 1 writes in the same launch: right only when blocks run in order.
KERNEL planted_block_dependency(Out<float> y) {
    if (threadIdx.x == 0) y[blockIdx.x + 1] = blockIdx.x == 0 ? 1.f : y[blockIdx.x] + 1.f;
}

// a·b − c·d for a = c and b = d: 0 when each operation rounds, but nvcc (and the emulator) fuse one
// product into the subtraction, fma(a, b, −c·d), which leaves the rounding error of c·d. Code that
// relies on such a cancellation (a variance as E[x²] − E[x]², say) breaks on a GPU.
KERNEL planted_fused_cancellation(In<float> a, In<float> b, In<float> c, In<float> d, Out<float> y, i64 n) {
    GRID_STRIDE(i, n) y[i] = a[i] * b[i] - c[i] * d[i];
}

// In thread-block clusters of CLUSTER_BLOCKS: each thread publishes a value in its block's shared
// memory and reads the same slot of the next block of its cluster (distributed shared memory). Right
// with both cluster_syncs; without the first, a block reads the next one's slot before it is
// written; without the second, a block exits, and its shared memory goes, while the block before it
// may still read it.
KERNEL planted_cluster_exchange(Out<float> y, int syncBefore, int syncAfter) {
    STATIC_SHARED(float, s, BIG_BLOCK);
    s[threadIdx.x] = (float)(1000 * cluster_rank() + threadIdx.x);
    if (syncBefore) cluster_sync();
    Out<float> next = cluster_shared(s, (cluster_rank() + 1) % CLUSTER_BLOCKS);
    y[(i64)blockIdx.x * blockDim.x + threadIdx.x] = next[threadIdx.x];
    if (syncAfter) cluster_sync();
}
