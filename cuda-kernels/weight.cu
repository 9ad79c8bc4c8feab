// weight.cu: WeightNorm, w = g_b·v/‖v_b‖ with v seen as [outer, slices, inner] and slice b the
// values v[(a·slices + b)·inner + k] (its norm taken over a and k).
//
// One block per slice (grid-stride over slices): a block reduction of Σ v² (or Σ dw·v) in a fixed
// tree, then the elementwise pass over the same slice. Weights are small next to activations, so
// reading the slice twice costs little; a weight with one huge slice (dim = none) gets one block.
#include "common.cuh"

__device__ __forceinline__ i64 slice_offset(i64 i, i64 b, i64 slices, i64 inner) {
    return ((i / inner) * slices + b) * inner + i % inner;
}

KERNEL weight_norm_forward(In<float> v, In<float> g, Out<float> w, Out<float> norm, i64 outer, i64 slices, i64 inner) {
    for (i64 b = blockIdx.x; b < slices; b += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 i = threadIdx.x; i < outer * inner; i += blockDim.x) {
            float x = v[slice_offset(i, b, slices, inner)];
            acc.a += x * x;
        }
        acc = block_reduce(acc);
        float n = sqrtf(acc.a);
        if (threadIdx.x == 0) norm[b] = n;
        float scale = g[b] / n;
        for (i64 i = threadIdx.x; i < outer * inner; i += blockDim.x) {
            i64 o = slice_offset(i, b, slices, inner);
            w[o] = v[o] * scale;
        }
    }
}

// grad_g += Σ dw·v/‖v‖;  grad_v += (g/‖v‖)·(dw − v·Σ(dw·v)/‖v‖²).
KERNEL weight_norm_backward(In<float> v, In<float> g, In<float> norm, In<float> dw, Out<float> grad_v,
                            Out<float> grad_g, i64 outer, i64 slices, i64 inner) {
    for (i64 b = blockIdx.x; b < slices; b += gridDim.x) {
        Sum2 acc = sum2(0.f, 0.f);
        for (i64 i = threadIdx.x; i < outer * inner; i += blockDim.x) {
            i64 o = slice_offset(i, b, slices, inner);
            acc.a += dw[o] * v[o];
        }
        acc = block_reduce(acc);
        float n = norm[b];
        if (threadIdx.x == 0 && grad_g) grad_g[b] += acc.a / n;
        if (grad_v) {
            float scale = g[b] / n;
            float proj = acc.a / (n * n);
            for (i64 i = threadIdx.x; i < outer * inner; i += blockDim.x) {
                i64 o = slice_offset(i, b, slices, inner);
                grad_v[o] += scale * (dw[o] - v[o] * proj);
            }
        }
    }
}
