// composite.cu: Batch-Instance and Switchable normalization, composed from the two families.
//
// Both take InstanceNorm statistics per (n, c) from stats.cu (one pass over x) and finish with the
// elementwise passes of channels.cu (y = A·(x − M) + D, dx = A·dy + B·(x − M) + D, M the instance
// mean). In between run the small kernels here, over statistics only, one thread per channel, per
// example or per (n, c), each looping over the other index in a fixed order (deterministic):
//
// Batch-Instance: y = w·(ρ·x̂_BN + (1 − ρ)·x̂_IN) + b. The BatchNorm statistics (or the running
//   ones) are the instance statistics merged over n in stats.cu's fixed tree (instance_partials
//   lays them out as its partials), so x is read once for both. Backward from per-(n, c) sums Σ dy and Σ dy·(x −
//   mean_nc): the BatchNorm sums per channel follow by adding over n, Σ dy·(x − mean_c) = Σ_n [Σ dy·(x − mean_nc) +
//   (mean_nc − mean_c)·Σ dy].
// Switchable: the layer statistics per n and the batch statistics per c are Chan merges of the
//   instance statistics (equal counts: mean of means, and mean of variances plus the variance of
//   the means), never E[x²] − E[x]²; then softmax-weighted mixes per (n, c). Backward pushes the
//   gradients of the mixed mean and variance back to the instance, layer and batch statistics, and
//   to the mixing logits (one block, fixed-order reduction).
#include "common.cuh"

// The instance statistics of [N, C] as per-channel Welford partials (mean, M2 = var·S), laid out
// as stats.cu's stage 1 writes them: channel c, part n at c·N + n.
KERNEL instance_partials(In<float> mean, In<float> var, i64 N, i64 C, i64 S, Out<float2> partials) {
    GRID_STRIDE(q, N * C) {
        partials[(q % C) * N + q / C] = make_float2(mean[q], var[q] * (float)S);
    }
}

KERNEL bin_forward_coefficients(In<float> bn_mean, In<float> bn_rstd, In<float> in_mean, In<float> in_rstd,
                                In<float> rho, In<float> w, In<float> b, i64 N, i64 C, Out<float> A, Out<float> D) {
    GRID_STRIDE(q, N * C) {
        i64 c = q % C;
        float wc = param_or(w, c, 1.f);
        A[q] = wc * (rho[c] * bn_rstd[c] + (1.f - rho[c]) * in_rstd[q]);
        D[q] = param_or(b, c, 0.f) + wc * rho[c] * bn_rstd[c] * (in_mean[q] - bn_mean[c]);
    }
}

KERNEL bin_backward_coefficients(In<float> sum_dy, In<float> sum_dy_x, In<float> bn_mean, In<float> bn_rstd,
                                 In<float> in_mean, In<float> in_rstd, In<float> rho, In<float> w, i64 N, i64 C, i64 S,
                                 int batch, Out<float> A, Out<float> B, Out<float> D, Out<float> grad_rho,
                                 Out<float> grad_w, Out<float> grad_b) {
    GRID_STRIDE(c, C) {
        float r = bn_rstd[c];
        float sd = 0.f;  // Σ dy over the channel
        float sx = 0.f;  // Σ dy·(x − mean_c)
        float ix = 0.f;  // Σ_n rstd_nc·Σ dy·(x − mean_nc)
        float dx = 0.f;  // Σ dy·(x̂_BN − x̂_IN), summed per n so the two large terms never cancel
        for (i64 n = 0; n < N; n++) {
            i64 q = n * C + c;
            float shift = in_mean[q] - bn_mean[c];
            sd += sum_dy[q];
            sx += sum_dy_x[q] + shift * sum_dy[q];
            ix += in_rstd[q] * sum_dy_x[q];
            dx += (r - in_rstd[q]) * sum_dy_x[q] + r * shift * sum_dy[q];
        }
        float p = rho[c];
        float wc = param_or(w, c, 1.f);
        float count = (float)(N * S);
        float b1 = batch ? -r * r * r * p * wc * sx / count : 0.f;  // on (x − mean_c)
        float d1 = batch ? -r * p * wc * sd / count : 0.f;
        for (i64 n = 0; n < N; n++) {
            i64 q = n * C + c;
            float ri = in_rstd[q];
            A[q] = r * p * wc + ri * (1.f - p) * wc;
            B[q] = b1 - ri * ri * ri * (1.f - p) * wc * sum_dy_x[q] / (float)S;
            D[q] = d1 - ri * (1.f - p) * wc * sum_dy[q] / (float)S + b1 * (in_mean[q] - bn_mean[c]);
        }
        if (grad_rho) grad_rho[c] += wc * dx;
        if (grad_w) grad_w[c] += p * r * sx + (1.f - p) * ix;
        if (grad_b) grad_b[c] += sd;
    }
}

// ---------------------------------------------------------------- Switchable

__device__ __forceinline__ void softmax3(In<float> logits, float* p) {
    float m = fmaxf(logits[0], fmaxf(logits[1], logits[2]));
    float e0 = expf(logits[0] - m);
    float e1 = expf(logits[1] - m);
    float e2 = expf(logits[2] - m);
    float s = e0 + e1 + e2;
    p[0] = e0 / s;
    p[1] = e1 / s;
    p[2] = e2 / s;
}

// Layer statistics (group n, members c: strides C and 1) or batch statistics (group c, members n:
// strides 1 and C) as Chan merges of equal-count instance statistics: the mean of the means, and
// the mean of the variances plus the variance of the means.
KERNEL sn_merge_stats(In<float> in_mean, In<float> in_var, i64 groups, i64 members, i64 groupStride, i64 memberStride,
                      Out<float> out_mean, Out<float> out_var) {
    GRID_STRIDE(g, groups) {
        float m = 0.f;
        for (i64 k = 0; k < members; k++) m += in_mean[g * groupStride + k * memberStride];
        m /= (float)members;
        float v = 0.f;
        for (i64 k = 0; k < members; k++) {
            float d = in_mean[g * groupStride + k * memberStride] - m;
            v += in_var[g * groupStride + k * memberStride] + d * d;
        }
        out_mean[g] = m;
        out_var[g] = v / (float)members;
    }
}

// running = (1 − factor)·running + factor·batch, the batch variance (biased, over count values)
// made unbiased.
KERNEL running_update(In<float> mean, In<float> var, i64 C, i64 count, float factor, Out<float> running_mean,
                      Out<float> running_var) {
    GRID_STRIDE(c, C) {
        running_blend(running_mean, running_var, c, mean[c], var[c] * ((float)count / (float)(count - 1)), factor);
    }
}

KERNEL sn_mix(In<float> in_mean, In<float> in_var, In<float> ln_mean, In<float> ln_var, In<float> bn_mean,
              In<float> bn_var, In<float> mean_logits, In<float> var_logits, In<float> w, In<float> b, float eps, i64 N,
              i64 C, Out<float> mean, Out<float> rstd, Out<float> A, Out<float> D) {
    float p[3];
    float s[3];
    softmax3(mean_logits, p);
    softmax3(var_logits, s);
    GRID_STRIDE(q, N * C) {
        i64 n = q / C;
        i64 c = q % C;
        mean[q] = p[0] * in_mean[q] + p[1] * ln_mean[n] + p[2] * bn_mean[c];
        rstd[q] = rsqrtf(s[0] * in_var[q] + s[1] * ln_var[n] + s[2] * bn_var[c] + eps);
        A[q] = rstd[q] * param_or(w, c, 1.f);
        D[q] = param_or(b, c, 0.f);
    }
}

// Gradients of the loss for the mixed mean and variance of each (n, c), from Σ dy and
// Σ dy·(x − mixed mean): dMean = −rstd·w·Σ dy, dVar = −rstd³·w·Σ dy·(x − mean)/2.
KERNEL sn_backward_mixed(In<float> sum_dy, In<float> sum_dy_x, In<float> rstd, In<float> w, i64 N, i64 C,
                         Out<float> d_mean, Out<float> d_var) {
    GRID_STRIDE(q, N * C) {
        float r = rstd[q];
        float wc = param_or(w, q % C, 1.f);
        d_mean[q] = -r * wc * sum_dy[q];
        d_var[q] = -0.5f * r * r * r * wc * sum_dy_x[q];
    }
}

// The share of the layer statistics (term 1: group n, members c) or of the batch statistics (term 2:
// group c, members n) in the gradients of the mixed statistics: p_term·Σ dMean and s_term·Σ dVar.
KERNEL sn_backward_share(In<float> d_mean, In<float> d_var, In<float> mean_logits, In<float> var_logits, int term,
                         i64 groups, i64 members, i64 groupStride, i64 memberStride, Out<float> out_mean,
                         Out<float> out_var) {
    float p[3];
    float s[3];
    softmax3(mean_logits, p);
    softmax3(var_logits, s);
    GRID_STRIDE(g, groups) {
        float dm = 0.f;
        float dv = 0.f;
        for (i64 k = 0; k < members; k++) {
            dm += d_mean[g * groupStride + k * memberStride];
            dv += d_var[g * groupStride + k * memberStride];
        }
        out_mean[g] = p[term] * dm;
        out_var[g] = s[term] * dv;
    }
}

// dx = rstd·w·dy + Σ_k (dMean_k + 2·dVar_k·(x − mean_k))/count_k over k = instance (S values),
// layer (C·S) and batch (N·S, with batch statistics only), as A·dy + B·(x − mean_IN) + D.
KERNEL sn_backward_coefficients(In<float> d_mean, In<float> d_var, In<float> d_ln_mean, In<float> d_ln_var,
                                In<float> d_bn_mean, In<float> d_bn_var, In<float> in_mean, In<float> ln_mean,
                                In<float> bn_mean, In<float> rstd, In<float> w, In<float> mean_logits,
                                In<float> var_logits, i64 N, i64 C, i64 S, int batch, Out<float> A, Out<float> B,
                                Out<float> D) {
    float p[3];
    float s[3];
    softmax3(mean_logits, p);
    softmax3(var_logits, s);
    float inCount = (float)S;
    float lnCount = (float)(C * S);
    float bnCount = (float)(N * S);
    GRID_STRIDE(q, N * C) {
        i64 n = q / C;
        i64 c = q % C;
        float dInVar = s[0] * d_var[q];
        float b = 2.f * dInVar / inCount + 2.f * d_ln_var[n] / lnCount;
        float d = p[0] * d_mean[q] / inCount + (d_ln_mean[n] + 2.f * d_ln_var[n] * (in_mean[q] - ln_mean[n])) / lnCount;
        if (batch) {
            b += 2.f * d_bn_var[c] / bnCount;
            d += (d_bn_mean[c] + 2.f * d_bn_var[c] * (in_mean[q] - bn_mean[c])) / bnCount;
        }
        A[q] = rstd[q] * param_or(w, c, 1.f);
        B[q] = b;
        D[q] = d;
    }
}

// One block: the logits' gradients through the softmaxes, in the centered form
//   ∂L/∂(mean logit k) = p_k·Σ_q dMean_q·(mean_k,q − Σ_j p_j·mean_j,q)
// (and likewise s, dVar and the variances) over every (n, c) = q, summed in double. Equal to
// p_k·(dp_k − Σ_j p_j·dp_j) with dp_k = Σ_q dMean_q·mean_k,q, but that subtracts fp32 sums which
// nearly cancel where the three statistics are alike (as they are on data of one distribution),
// and so multiplies their rounding; here each term subtracts the statistics themselves.
BIG_KERNEL sn_logit_grads(In<float> d_mean, In<float> d_var, In<float> in_mean, In<float> in_var, In<float> ln_mean,
                          In<float> ln_var, In<float> bn_mean, In<float> bn_var, In<float> mean_logits,
                          In<float> var_logits, i64 N, i64 C, Out<float> grad_mean_logits, Out<float> grad_var_logits) {
    float p[3];
    float s[3];
    softmax3(mean_logits, p);
    softmax3(var_logits, s);
    Sum2d g[3] = {sum2d(0, 0), sum2d(0, 0), sum2d(0, 0)};  // (mean, variance) parts for IN, LN, BN
    for (i64 q = threadIdx.x; q < N * C; q += blockDim.x) {
        const i64 n = q / C;
        const i64 c = q % C;
        const double m[3] = {in_mean[q], ln_mean[n], bn_mean[c]};
        const double v[3] = {in_var[q], ln_var[n], bn_var[c]};
        const double mixedMean = p[0] * m[0] + p[1] * m[1] + p[2] * m[2];
        const double mixedVar = s[0] * v[0] + s[1] * v[1] + s[2] * v[2];
        const double dm = d_mean[q];
        const double dv = d_var[q];
        for (int k = 0; k < 3; k++) {
            g[k].a += dm * (m[k] - mixedMean);
            g[k].b += dv * (v[k] - mixedVar);
        }
    }
    for (int k = 0; k < 3; k++) g[k] = block_reduce(g[k]);
    if (threadIdx.x == 0) {
        for (int k = 0; k < 3; k++) {
            if (grad_mean_logits) grad_mean_logits[k] += (float)(p[k] * g[k].a);
            if (grad_var_logits) grad_var_logits[k] += (float)(s[k] * g[k].b);
        }
    }
}
