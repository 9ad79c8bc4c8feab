// convert.cu: 16-bit storage (float16, bfloat16) to and from float32.
//
// The CUDA backend holds float16 and bfloat16 tensors as their 16-bit patterns (unsigned short).
// Until a norm's own kernels read and write 16-bit storage, the backend runs its float32 kernels on
// float32 copies: the 16-bit inputs widened (exact), the outputs rounded once to nearest even
// (NaN stays NaN, infinities and signed zeros survive, float16 subnormals are kept). One thread per
// BATCH values in flight, grid-stride; one read and one write per value: 6 bytes a value.
#include "common.cuh"

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
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short float_to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
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

#define WIDEN_ENTRY(name, convert)                                           \
    KERNEL name(In<unsigned short> x, Out<float> y, i64 n) {                 \
        GRID_STRIDE_BATCH(i0, stride, n) {                                   \
            unsigned short v[BATCH];                                         \
            _Pragma("unroll") for (int u = 0; u < BATCH; u++) {              \
                if (i0 + u * stride < n) v[u] = x[i0 + u * stride];          \
            }                                                                \
            _Pragma("unroll") for (int u = 0; u < BATCH; u++) {              \
                if (i0 + u * stride < n) y[i0 + u * stride] = convert(v[u]); \
            }                                                                \
        }                                                                    \
    }
#define NARROW_ENTRY(name, convert)                                          \
    KERNEL name(In<float> x, Out<unsigned short> y, i64 n) {                 \
        GRID_STRIDE_BATCH(i0, stride, n) {                                   \
            float v[BATCH];                                                  \
            load_strided(x, i0, stride, n, v);                               \
            _Pragma("unroll") for (int u = 0; u < BATCH; u++) {              \
                if (i0 + u * stride < n) y[i0 + u * stride] = convert(v[u]); \
            }                                                                \
        }                                                                    \
    }

WIDEN_ENTRY(widen_f16, half_to_float)
WIDEN_ENTRY(widen_bf16, bf16_to_float)
NARROW_ENTRY(narrow_f16, float_to_half)
NARROW_ENTRY(narrow_bf16, float_to_bf16)
