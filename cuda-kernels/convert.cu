// convert.cu: 16-bit storage (float16, bfloat16; common.cuh's Half and BFloat16) to and from float32.
//
// Where a norm's kernels do not read and write 16-bit storage themselves, the backend runs its
// float32 kernels on float32 copies: the 16-bit inputs widened (exact), the outputs rounded once to
// nearest even (NaN stays NaN, infinities and signed zeros survive, float16 subnormals are kept).
// One thread per BATCH values in flight, grid-stride; one read and one write per value: 6 bytes a
// value.
#include "common.cuh"

#define WIDEN_ENTRY(name, STORAGE)                                  \
    KERNEL name(In<STORAGE> x, Out<float> y, i64 n) {               \
        GRID_STRIDE_BATCH(i0, stride, n) {                          \
            float v[BATCH];                                         \
            load_strided(x, i0, stride, n, v);                      \
            _Pragma("unroll") for (int u = 0; u < BATCH; u++) {     \
                if (i0 + u * stride < n) y[i0 + u * stride] = v[u]; \
            }                                                       \
        }                                                           \
    }
#define NARROW_ENTRY(name, STORAGE)                                                      \
    KERNEL name(In<float> x, Out<STORAGE> y, i64 n) {                                    \
        GRID_STRIDE_BATCH(i0, stride, n) {                                               \
            float v[BATCH];                                                              \
            load_strided(x, i0, stride, n, v);                                           \
            _Pragma("unroll") for (int u = 0; u < BATCH; u++) {                          \
                if (i0 + u * stride < n) y[i0 + u * stride] = from_float<STORAGE>(v[u]); \
            }                                                                            \
        }                                                                                \
    }

WIDEN_ENTRY(widen_f16, Half)
WIDEN_ENTRY(widen_bf16, BFloat16)
NARROW_ENTRY(narrow_f16, Half)
NARROW_ENTRY(narrow_bf16, BFloat16)
