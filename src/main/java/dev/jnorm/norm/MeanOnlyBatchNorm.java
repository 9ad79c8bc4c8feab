package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Mean-only BatchNorm (Salimans &amp; Kingma 2016), over {@code [N, C, *]}: {@code y = x − μ_c + β_c},
 * μ the batch's per-channel mean over N and the spatial dims in training, the running mean in
 * evaluation (when tracked). It has no weight and no division; training updates
 * {@code running_mean = (1 − momentum)·running_mean + momentum·μ} (a cumulative average with
 * momentum null). Paired with {@link WeightNorm} on the preceding layer's weight, it stands in for
 * BatchNorm's scale.
 */
public final class MeanOnlyBatchNorm extends NormLayer<MeanOnlyBatchNorm> implements TracksRunningStatistics {
    private final long numFeatures;
    private final Parameter bias;
    private final RunningBuffers running; // the mean only

    private MeanOnlyBatchNorm(Backend backend, Builder b) {
        super(backend, b.dtype);
        this.numFeatures = b.numFeatures;
        this.bias = b.affine ? addParameter("bias", Shape.of(b.numFeatures), 0) : null;
        this.running = b.track ? own(new RunningBuffers(backend, b.numFeatures, b.dtype, b.momentum, false)) : null;
    }

    /**
     * A builder with BatchNorm's defaults: momentum 0.1, a bias, a tracked running mean, float32.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder builder(long numFeatures) {
        return new Builder(numFeatures);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        boolean batch = isTraining() || running == null;
        MeanOnlyOutput out = Norms.meanOnlyBatchNorm(x, valueOf(bias), runningMean(), batch,
                running == null ? 0 : running.nextFactor());
        if (batch && running != null) {
            running.countBatch();
        }
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        return ((MeanOnlyOutput) forward).backward(dy, gradOf(bias));
    }

    @Override
    public MeanOnlyOutput lastForward() {
        return lastForward(MeanOnlyOutput.class);
    }

    /** @return C */
    public long numFeatures() {
        return numFeatures;
    }

    /** @return the bias, or null without affine */
    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor runningMean() {
        return running == null ? null : running.stats.mean();
    }

    /** None: mean-only BatchNorm keeps no running variance. */
    @Override
    public Tensor runningVar() {
        return null;
    }

    @Override
    public boolean keepsVariance() {
        return false;
    }

    @Override
    public long numBatchesTracked() {
        return running == null ? 0 : running.numBatchesTracked();
    }

    @Override
    public void setNumBatchesTracked(long count) {
        if (running == null) {
            throw new IllegalStateException("this layer does not track running statistics");
        }
        running.setNumBatchesTracked(count);
    }

    /** Options of mean-only BatchNorm: momentum 0.1, a bias, a tracked running mean, float32. */
    public static final class Builder {
        private final long numFeatures;
        private Double momentum = 0.1;
        private boolean affine = true;
        private boolean track = true;
        private DType dtype = DType.FLOAT32;

        private Builder(long numFeatures) {
            this.numFeatures = numFeatures;
        }

        /**
         * The weight of each batch in the running mean; default 0.1.
         *
         * @param momentum in [0, 1]
         * @return this builder
         */
        public Builder momentum(double momentum) {
            Checks.momentum(momentum);
            this.momentum = momentum;
            return this;
        }

        /**
         * A cumulative average for the running mean (PyTorch's {@code momentum=None}).
         *
         * @return this builder
         */
        public Builder cumulativeAverage() {
            this.momentum = null;
            return this;
        }

        /**
         * Learn the bias β; default true.
         *
         * @param affine whether to learn β
         * @return this builder
         */
        public Builder affine(boolean affine) {
            this.affine = affine;
            return this;
        }

        /**
         * Keep a running mean for evaluation; default true.
         *
         * @param track whether to track it
         * @return this builder
         */
        public Builder trackRunningStats(boolean track) {
            this.track = track;
            return this;
        }

        /**
         * The dtype of the inputs (the bias and running mean are float32 for 16-bit inputs); default float32.
         *
         * @param dtype the dtype
         * @return this builder
         */
        public Builder dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        /**
         * The layer, its bias and running mean on {@code backend}.
         *
         * @param backend where it computes
         * @return the layer
         */
        public MeanOnlyBatchNorm build(Backend backend) {
            return new MeanOnlyBatchNorm(backend, this);
        }
    }
}
