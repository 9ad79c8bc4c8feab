package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Root-mean-square normalization (Zhang &amp; Sennrich, 2019) over the trailing dims
 * {@code normalizedShape}: {@code y = x/sqrt(mean(x²) + eps)·γ}, no centering and no bias. eps
 * is by default the machine epsilon of the input's dtype, as PyTorch's RMSNorm.
 */
public final class RMSNorm extends NormLayer<RMSNorm> {
    private final Shape normalizedShape;
    private final Double eps;
    private final Parameter weight;

    private RMSNorm(Backend backend, Builder b) {
        super(backend, b.dtype);
        if (b.eps != null) {
            Checks.eps(b.eps);
        }
        this.normalizedShape = b.normalizedShape;
        this.eps = b.eps;
        this.weight = b.elementwiseAffine ? addParameter("weight", normalizedShape, 1) : null;
    }

    /**
     * A builder with PyTorch's defaults: eps the machine epsilon of the input's dtype, elementwise affine.
     *
     * @param normalizedShape the trailing dims of the input normalized over
     * @return a builder
     */
    public static Builder builder(long... normalizedShape) {
        return new Builder(Shape.of(normalizedShape));
    }

    /**
     * The trailing dims normalized over.
     *
     * @return the normalized shape
     */
    public Shape normalizedShape() {
        return normalizedShape;
    }

    /**
     * The elementwise scale γ, of the normalized shape.
     *
     * @return the weight, or null without elementwise affine
     */
    public Parameter weight() {
        return weight;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        return remember(eps == null ? Norms.rmsNorm(x, normalizedShape, valueOf(weight))
                : Norms.rmsNorm(x, normalizedShape, valueOf(weight), eps)).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        NormOutput f = (NormOutput) forward;
        return f.backward(dy, values(weight, null), grads(weight, null));
    }

    @Override
    public NormOutput lastForward() {
        return lastForward(NormOutput.class);
    }

    /**
     * Options of RMSNorm, PyTorch's defaults: eps the input dtype's machine epsilon, elementwise affine, float32.
     */
    public static final class Builder {
        private final Shape normalizedShape;
        private Double eps;
        private boolean elementwiseAffine = true;
        private DType dtype = DType.FLOAT32;

        private Builder(Shape normalizedShape) {
            this.normalizedShape = normalizedShape;
        }

        /**
         * Added to the mean square; by default the machine epsilon of the input's dtype.
         *
         * @param eps a non-negative value
         * @return this builder
         */
        public Builder eps(double eps) {
            this.eps = eps;
            return this;
        }

        /**
         * Whether to learn γ; default true.
         *
         * @param elementwiseAffine whether to
         * @return this builder
         */
        public Builder elementwiseAffine(boolean elementwiseAffine) {
            this.elementwiseAffine = elementwiseAffine;
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
         * @throws IllegalArgumentException for a bad setting
         */
        public RMSNorm build(Backend backend) {
            return new RMSNorm(backend, this);
        }
    }
}
