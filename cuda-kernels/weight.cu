// weight.cu: WeightNorm, w = g_b·v/‖v_b‖ with v seen as [outer, slices, inner] and slice b the
// values v[(a·slices + b)·inner + k] (its norm taken over a and k).
//
// One block per slice (grid-stride over slices): a block reduction of Σ v² (or Σ dw·v) in a fixed
// tree, then the elementwise pass over the same slice, each thread with 8 loads in flight. The second
// read of a slice hits the cache (the emulator's footprint counts it once); a weight with one huge
// slice (dim = none) gets one block.
#include "common.cuh"

__device__ __forceinline__ i64 slice_offset(i64 i, i64 b, i64 slices, i64 inner) {
    return ((i / inner) * slices + b) * inner + i % inner;
}

// Visits the values of slice b in a fixed per-thread order, passing f(offset, value) batches of
// WELFORD_BATCH loads issued before any is used. With outer == 1 (dim 0, the usual case) the slice
// is contiguous and no value divides; otherwise each offset comes from slice_offset.
template <class F>
__device__ __forceinline__ void slice_batches(In<float> p, i64 b, i64 outer, i64 slices, i64 inner, F f) {
    const i64 count = outer * inner;
    for (i64 i0 = threadIdx.x; i0 < count; i0 += WELFORD_BATCH * blockDim.x) {
        float x[WELFORD_BATCH];
        i64 o[WELFORD_BATCH];
#pragma unroll
        for (int u = 0; u < WELFORD_BATCH; u++) {
            i64 i = i0 + u * blockDim.x;
            o[u] = outer == 1 ? b * inner + i : slice_offset(i, b, slices, inner);
            if (i < count) x[u] = p[o[u]];
        }
#pragma unroll
        for (int u = 0; u < WELFORD_BATCH; u++) {
            if (i0 + u * blockDim.x < count) f(o[u], x[u]);
        }
    }
}

KERNEL weight_norm_forward(In<float> v, In<float> g, Out<float> w, Out<float> norm, i64 outer, i64 slices, i64 inner) {
    for (i64 b = blockIdx.x; b < slices; b += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        slice_batches(v, b, outer, slices, inner, [&](i64, float x) { acc.a += x * x; });
        acc = block_reduce(acc);
        float n = sqrtf(acc.a);
        if (threadIdx.x == 0) norm[b] = n;
        float scale = g[b] / n;
        slice_batches(v, b, outer, slices, inner, [&](i64 o, float x) { w[o] = x * scale; });
    }
}

// grad_g += Σ dw·v/‖v‖;  grad_v += (g/‖v‖)·(dw − v·Σ(dw·v)/‖v‖²).
KERNEL weight_norm_backward(In<float> v, In<float> g, In<float> norm, In<float> dw, Out<float> grad_v,
                            Out<float> grad_g, i64 outer, i64 slices, i64 inner) {
    for (i64 b = blockIdx.x; b < slices; b += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        slice_batches(dw, b, outer, slices, inner, [&](i64 o, float d) { acc.a += d * v[o]; });
        acc = block_reduce(acc);
        float n = norm[b];
        if (threadIdx.x == 0 && grad_g) grad_g[b] += acc.a / n;
        if (grad_v) {
            float scale = g[b] / n;
            float proj = acc.a / (n * n);
            slice_batches(dw, b, outer, slices, inner, [&](i64 o, float d) { grad_v[o] += scale * (d - v[o] * proj); });
        }
    }
}
