package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Group normalization (Wu &amp; He, 2018) over {@code [N, C, *]}: the C channels split into G groups
 * of C/G consecutive channels, each (n, group) normalized over its channels and spatial values,
 * {@code y = (x − E[x])/sqrt(Var[x] + eps)·γ_c + β_c}. Independent of the batch size, and the same
 * in training and evaluation. G = C is InstanceNorm, G = 1 is LayerNorm over (C, spatial).
 */
public final class GroupNorm extends NormLayer<GroupNorm> {
    private final long numGroups;
    private final long numChannels;
    private final double eps;
    private final Parameter weight;
    private final Parameter bias;

    private GroupNorm(Backend backend, Builder b) {
        super(backend, b.dtype);
        if (b.numGroups <= 0 || b.numChannels <= 0) {
            throw Checks.fail("num_groups and num_channels must be positive, got " + b.numGroups + " and "
                    + b.numChannels);
        }
        if (b.numChannels % b.numGroups != 0) {
            throw Checks.fail("num_channels must be divisible by num_groups");
        }
        Checks.eps(b.eps);
        this.numGroups = b.numGroups;
        this.numChannels = b.numChannels;
        this.eps = b.eps;
        this.weight = b.affine ? addParameter("weight", Shape.of(numChannels), 1) : null;
        this.bias = b.affine ? addParameter("bias", Shape.of(numChannels), 0) : null;
    }

    /**
     * A builder with PyTorch's defaults: eps 1e-5, affine.
     *
     * @param numGroups G, which divides the channels
     * @param numChannels C
     * @return a builder
     */
    public static Builder builder(long numGroups, long numChannels) {
        return new Builder(numGroups, numChannels);
    }

    /**
     * A builder for {@code numChannels} channels with the usual group count: min(32, C), lowered until
     * it divides C (the ConvGNBlock pattern of GroupNorm's paper and of detection code: 32 groups
     * where C allows, 16 channels of 48, 5 of 5, one group of a prime C over 32).
     *
     * @param numChannels C, positive
     * @return a builder with that group count
     */
    public static Builder forChannels(long numChannels) {
        if (numChannels <= 0) {
            throw Checks.fail("num_channels must be positive, got " + numChannels);
        }
        return new Builder(defaultGroups(numChannels), numChannels);
    }

    /**
     * The group count {@link #forChannels} takes: the largest divisor of C that is at most 32.
     *
     * @param numChannels C, positive
     * @return G
     */
    public static long defaultGroups(long numChannels) {
        long g = Math.min(32, numChannels);
        while (numChannels % g != 0) {
            g--;
        }
        return g;
    }

    /**
     * The number of groups G.
     *
     * @return G
     */
    public long numGroups() {
        return numGroups;
    }

    /**
     * The number of channels C.
     *
     * @return C
     */
    public long numChannels() {
        return numChannels;
    }

    /**
     * The per-channel scale γ.
     *
     * @return the weight {@code [C]}, or null without affine
     */
    public Parameter weight() {
        return weight;
    }

    /**
     * The per-channel shift β.
     *
     * @return the bias {@code [C]}, or null without affine
     */
    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        return remember(Norms.groupNorm(x, numGroups, values(weight, bias), eps)).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        NormOutput f = (NormOutput) forward;
        return f.backward(dy, values(weight, bias), grads(weight, bias));
    }

    @Override
    public NormOutput lastForward() {
        return lastForward(NormOutput.class);
    }

    /**
     * Options of GroupNorm, PyTorch's defaults: eps 1e-5, affine, float32.
     */
    public static final class Builder {
        private final long numGroups;
        private final long numChannels;
        private double eps = 1e-5;
        private boolean affine = true;
        private DType dtype = DType.FLOAT32;

        private Builder(long numGroups, long numChannels) {
            this.numGroups = numGroups;
            this.numChannels = numChannels;
        }

        /**
         * Added to the variance before the square root; default 1e-5.
         *
         * @param eps a non-negative value
         * @return this builder
         */
        public Builder eps(double eps) {
            this.eps = eps;
            return this;
        }

        /**
         * Learn a per-channel weight and bias; default true.
         *
         * @param affine whether to learn γ and β; default true
         * @return this builder
         */
        public Builder affine(boolean affine) {
            this.affine = affine;
            return this;
        }

        /**
         * The dtype of the parameters and accepted inputs; default float32.
         *
         * @param dtype float32 or float64
         * @return this builder
         */
        public Builder dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        /**
         * The layer, its parameters on {@code backend}.
         *
         * @param backend where it computes
         * @return the layer
         * @throws IllegalArgumentException for a bad setting, with PyTorch's message
         */
        public GroupNorm build(Backend backend) {
            return new GroupNorm(backend, this);
        }
    }
}
