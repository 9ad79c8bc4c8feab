package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.OptionalDouble;

/**
 * The norms configured like BatchNorm: {@code numFeatures} channels, an optional per-channel
 * affine (weight 1, bias 0), and optional running statistics (mean 0, variance 1) updated by
 * momentum or cumulative average. BatchNorm, InstanceNorm, BatchInstanceNorm, SwitchableNorm.
 */
public abstract class RunningStatsNorm<L extends RunningStatsNorm<L>> extends NormLayer<L> {
    private final long numFeatures;
    private final double eps;
    private final Parameter weight;
    private final Parameter bias;
    private final RunningBuffers running;

    protected RunningStatsNorm(Backend backend, Builder<?> b) {
        super(backend, b.dtype);
        Checks.eps(b.eps);
        if (!b.cumulative) {
            Checks.momentum(b.momentum);
        }
        if (b.numFeatures <= 0) {
            throw Checks.fail("num_features must be positive, got " + b.numFeatures);
        }
        this.numFeatures = b.numFeatures;
        this.eps = b.eps;
        this.weight = b.affine ? addParameter("weight", Shape.of(numFeatures), 1) : null;
        this.bias = b.affine ? addParameter("bias", Shape.of(numFeatures), 0) : null;
        this.running = b.trackRunningStats
                ? own(new RunningBuffers(backend, numFeatures, b.dtype, b.cumulative ? null : b.momentum)) : null;
    }

    public long numFeatures() {
        return numFeatures;
    }

    public double eps() {
        return eps;
    }

    /** The affine scale, or null without affine. */
    public Parameter weight() {
        return weight;
    }

    /** The affine shift, or null without affine. */
    public Parameter bias() {
        return bias;
    }

    /** The running mean and variance, or null when running statistics are not tracked. */
    public RunningStats running() {
        return running == null ? null : running.stats;
    }

    /** The running mean, or null when running statistics are not tracked. */
    public Tensor runningMean() {
        return running == null ? null : running.stats.mean();
    }

    /** The running (unbiased) variance, or null when running statistics are not tracked. */
    public Tensor runningVar() {
        return running == null ? null : running.stats.var();
    }

    /** The batches that have updated the running statistics; 0 when they are not tracked. */
    public long numBatchesTracked() {
        return running == null ? 0 : running.numBatchesTracked();
    }

    public void setNumBatchesTracked(long count) {
        if (running == null) {
            throw new IllegalStateException("this layer does not track running statistics");
        }
        running.setNumBatchesTracked(count);
    }

    /**
     * The weight of each new batch in the running statistics; empty for a cumulative average, or
     * when running statistics are not tracked.
     */
    public OptionalDouble momentum() {
        Double m = running == null ? null : running.momentum();
        return m == null ? OptionalDouble.empty() : OptionalDouble.of(m);
    }

    /** True when the running statistics are a cumulative average ({@code 1/numBatchesTracked}). */
    public boolean cumulativeAverage() {
        return running != null && running.momentum() == null;
    }

    /** True when this forward normalizes with the input's statistics: training, or no running statistics. */
    protected boolean usesInputStatistics() {
        return isTraining() || running == null;
    }

    /** The update factor the next forward passes to the backend. */
    protected double nextFactor() {
        return running == null ? 0 : running.nextFactor();
    }

    /** After a successful training forward that updated the running statistics, counts the batch. */
    protected void countBatch(Tensor x) {
        if (isTraining() && running != null && x.numel() > 0) {
            running.countBatch();
        }
    }

    /**
     * Options shared by the BatchNorm-like layers; defaults as PyTorch's BatchNorm (eps 1e-5,
     * momentum 0.1, affine, tracking running statistics, float32).
     *
     * @param <L> the layer it builds
     */
    public static final class Builder<L extends RunningStatsNorm<L>> {
        private final long numFeatures;
        private final java.util.function.BiFunction<Backend, Builder<L>, L> constructor;
        private double eps = 1e-5;
        private double momentum = 0.1;
        private boolean cumulative;
        private boolean affine = true;
        private boolean trackRunningStats = true;
        private DType dtype = DType.FLOAT32;

        Builder(long numFeatures, java.util.function.BiFunction<Backend, Builder<L>, L> constructor) {
            this.numFeatures = numFeatures;
            this.constructor = constructor;
        }

        /** Added to the variance before the square root; default 1e-5. */
        public Builder<L> eps(double eps) {
            this.eps = eps;
            return this;
        }

        /** Weight of each new batch in the running statistics: {@code running = (1 − m)·running + m·batch}; default 0.1. */
        public Builder<L> momentum(double momentum) {
            this.momentum = momentum;
            this.cumulative = false;
            return this;
        }

        /**
         * Running statistics as the cumulative average of the batches' statistics (the factor
         * {@code 1/numBatchesTracked}), instead of a momentum: PyTorch's {@code momentum=None}.
         */
        public Builder<L> cumulativeAverage() {
            this.cumulative = true;
            return this;
        }

        /** Learn a per-channel weight and bias. */
        public Builder<L> affine(boolean affine) {
            this.affine = affine;
            return this;
        }

        /** Keep running statistics for evaluation mode. */
        public Builder<L> trackRunningStats(boolean track) {
            this.trackRunningStats = track;
            return this;
        }

        /** The dtype of parameters, buffers and accepted inputs; default float32. */
        public Builder<L> dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        public L build(Backend backend) {
            return constructor.apply(backend, this);
        }
    }
}
