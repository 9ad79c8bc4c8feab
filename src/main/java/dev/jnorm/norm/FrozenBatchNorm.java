package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * FrozenBatchNorm (torchvision's {@code FrozenBatchNorm2d}), over {@code [N, C, *]}: BatchNorm's
 * evaluation with a fixed weight, bias, running mean and running variance, in every mode:
 * {@code y = (x − running_mean)/sqrt(running_var + eps)·weight + bias}. Nothing is learned or
 * updated, and {@link #parameters()} is empty: the gradient goes to the input only,
 * {@code dx = dy·weight/sqrt(running_var + eps)}. Detection models fine-tune with it where a
 * batch of a few images gives BatchNorm nothing to estimate. {@link BatchNorm#freeze()} converts a
 * trained layer; a new one starts at weight 1, bias 0, mean 0, variance 1.
 */
public final class FrozenBatchNorm extends NormLayer<FrozenBatchNorm> {
    private final long numFeatures;
    private final double eps;
    private final Tensor weight;
    private final Tensor bias;
    private final RunningStats running;

    private FrozenBatchNorm(Backend backend, Builder b) {
        super(backend, b.dtype);
        Checks.eps(b.eps);
        this.numFeatures = b.numFeatures;
        this.eps = b.eps;
        DType buffers = b.dtype.parameterType();
        Shape c = Shape.of(b.numFeatures);
        this.weight = own(backend.allocate(c, buffers));
        this.bias = own(backend.allocate(c, buffers));
        this.running = new RunningStats(own(backend.allocate(c, buffers)), own(backend.allocate(c, buffers)));
        backend.fill(weight, 1);
        backend.fill(running.var(), 1);
    }

    /**
     * A builder with torchvision's defaults: eps 1e-5, float32.
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
        return remember(Norms.frozenBatchNorm(x, weight, bias, running.mean(), running.var(), eps)).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        return ((NormOutput) forward).backward(dy, new Affine(weight, bias), Affine.NONE);
    }

    @Override
    public NormOutput lastForward() {
        return lastForward(NormOutput.class);
    }

    /** @return C */
    public long numFeatures() {
        return numFeatures;
    }

    /** @return eps */
    public double eps() {
        return eps;
    }

    /** @return the fixed weight ([C]; set it with {@code copyFrom}) */
    public Tensor weight() {
        return weight;
    }

    /** @return the fixed bias ([C]) */
    public Tensor bias() {
        return bias;
    }

    /** @return the fixed running mean ([C]) */
    public Tensor runningMean() {
        return running.mean();
    }

    /** @return the fixed running variance ([C]) */
    public Tensor runningVar() {
        return running.var();
    }

    /** Options of FrozenBatchNorm, torchvision's defaults: eps 1e-5, float32. */
    public static final class Builder {
        private final long numFeatures;
        private double eps = 1e-5;
        private DType dtype = DType.FLOAT32;

        private Builder(long numFeatures) {
            this.numFeatures = numFeatures;
        }

        /**
         * Added to the running variance before the square root; default 1e-5.
         *
         * @param eps a non-negative value
         * @return this builder
         */
        public Builder eps(double eps) {
            this.eps = eps;
            return this;
        }

        /**
         * The dtype of the inputs (the buffers are float32 for 16-bit inputs); default float32.
         *
         * @param dtype the dtype
         * @return this builder
         */
        public Builder dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        /**
         * The layer, its buffers on {@code backend}.
         *
         * @param backend where it computes
         * @return the layer
         */
        public FrozenBatchNorm build(Backend backend) {
            return new FrozenBatchNorm(backend, this);
        }
    }
}
