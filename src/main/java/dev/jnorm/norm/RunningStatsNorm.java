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
public abstract class RunningStatsNorm<L extends RunningStatsNorm<L>> extends NormLayer<L>
        implements TracksRunningStatistics {
    private final long numFeatures;
    private final double eps;
    private final Parameter weight;
    private final Parameter bias;
    private final RunningBuffers running;

    /**
     * A layer built by {@code b}, checking its settings.
     *
     * @param backend where its parameters and buffers live
     * @param b the builder's settings
     */
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

    /**
     * The number of channels C of its inputs {@code [N, C, *]}.
     *
     * @return C
     */
    public long numFeatures() {
        return numFeatures;
    }

    /**
     * The value added to the variance before the square root.
     *
     * @return eps
     */
    public double eps() {
        return eps;
    }

    /**
     * The affine scale, or null without affine.
     *
     * @return the weight {@code [C]}
     */
    public Parameter weight() {
        return weight;
    }

    /**
     * The affine shift, or null without affine.
     *
     * @return the bias {@code [C]}
     */
    public Parameter bias() {
        return bias;
    }

    /**
     * The running mean and variance, or null when running statistics are not tracked.
     *
     * @return the running statistics
     */
    public RunningStats running() {
        return running == null ? null : running.stats;
    }

    /**
     * The running mean, or null when running statistics are not tracked.
     *
     * @return the running mean {@code [C]}
     */
    @Override
    public Tensor runningMean() {
        return running == null ? null : running.stats.mean();
    }

    /**
     * The running (unbiased) variance, or null when running statistics are not tracked.
     *
     * @return the running variance {@code [C]}
     */
    @Override
    public Tensor runningVar() {
        return running == null ? null : running.stats.var();
    }

    /**
     * The batches that have updated the running statistics; 0 when they are not tracked.
     *
     * @return the number of batches
     */
    @Override
    public long numBatchesTracked() {
        return running == null ? 0 : running.numBatchesTracked();
    }

    /**
     * Sets the count of batches seen, as when restoring a checkpoint (it sets the next cumulative-average factor).
     *
     * @param count the number of batches
     * @throws IllegalStateException when running statistics are not tracked
     */
    @Override
    public void setNumBatchesTracked(long count) {
        if (running == null) {
            throw new IllegalStateException("this layer does not track running statistics");
        }
        running.setNumBatchesTracked(count);
    }

    /**
     * The weight of each new batch in the running statistics; empty for a cumulative average, or
     * when running statistics are not tracked.
     *
     * @return the momentum, if any
     */
    public OptionalDouble momentum() {
        Double m = running == null ? null : running.momentum();
        return m == null ? OptionalDouble.empty() : OptionalDouble.of(m);
    }

    /**
     * True when the running statistics are a cumulative average ({@code 1/numBatchesTracked}).
     *
     * @return whether the running statistics are a cumulative average
     */
    public boolean cumulativeAverage() {
        return running != null && running.momentum() == null;
    }

    /**
     * True when this forward normalizes with the input's statistics: training, or no running statistics.
     *
     * @return whether to normalize with the input's statistics
     */
    protected boolean usesInputStatistics() {
        return isTraining() || running == null;
    }

    /**
     * The update factor the next forward passes to the backend.
     *
     * @return the factor, 0 without running statistics
     */
    protected double nextFactor() {
        return factor(0);
    }

    /**
     * The update factor of the batch {@code ahead} batches after the next, the count unchanged in
     * between (Ghost BatchNorm's virtual batches, counted after the forward).
     *
     * @param ahead how many batches later
     * @return the factor, 0 without running statistics
     */
    protected double factor(long ahead) {
        return running == null ? 0 : running.factor(ahead);
    }

    /**
     * After a successful training forward that updated the running statistics, counts the batch.
     *
     * @param x the input of the forward
     */
    protected void countBatch(Tensor x) {
        if (x.numel() > 0) {
            countBatch();
        }
    }

    /**
     * After a successful training forward that updated the running statistics, counts the batch,
     * whatever this layer's own part of it (SyncBatchNorm's rank with no examples updates them too).
     */
    protected void countBatch() {
        if (isTraining() && running != null) {
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

        /**
         * Added to the variance before the square root; default 1e-5.
         *
         * @param eps a non-negative value
         * @return this builder
         */
        public Builder<L> eps(double eps) {
            this.eps = eps;
            return this;
        }

        /**
         * Weight of each new batch in the running statistics: {@code running = (1 − m)·running + m·batch}; default 0.1.
         *
         * @param momentum in [0, 1]
         * @return this builder
         */
        public Builder<L> momentum(double momentum) {
            this.momentum = momentum;
            this.cumulative = false;
            return this;
        }

        /**
         * Running statistics as the cumulative average of the batches' statistics (the factor
         * {@code 1/numBatchesTracked}), instead of a momentum: PyTorch's {@code momentum=None}.
         *
         * @return this builder
         */
        public Builder<L> cumulativeAverage() {
            this.cumulative = true;
            return this;
        }

        /**
         * Learn a per-channel weight and bias.
         *
         * @param affine whether to learn them; default true
         * @return this builder
         */
        public Builder<L> affine(boolean affine) {
            this.affine = affine;
            return this;
        }

        /**
         * Keep running statistics for evaluation mode.
         *
         * @param track whether to; default true
         * @return this builder
         */
        public Builder<L> trackRunningStats(boolean track) {
            this.trackRunningStats = track;
            return this;
        }

        /**
         * The dtype of parameters, buffers and accepted inputs; default float32.
         *
         * @param dtype float32 or float64
         * @return this builder
         */
        public Builder<L> dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        /** Whether the layer will keep running statistics. */
        boolean tracksRunningStats() {
            return trackRunningStats;
        }

        /**
         * The layer, its parameters and buffers on {@code backend}.
         *
         * @param backend where it computes
         * @return the layer, in training mode
         * @throws IllegalArgumentException for a bad setting, with PyTorch's message
         */
        public L build(Backend backend) {
            return constructor.apply(backend, this);
        }
    }
}
