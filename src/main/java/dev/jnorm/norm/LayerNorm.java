package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Layer normalization (Ba et al., 2016) over the trailing dims {@code normalizedShape}: each
 * leading index normalized over them, {@code y = (x − E[x])/sqrt(Var[x] + eps)·γ + β} with γ and
 * β of the normalized shape (elementwise). The same in training and evaluation.
 */
public final class LayerNorm extends NormLayer<LayerNorm> {
    private final Shape normalizedShape;
    private final double eps;
    private final Parameter weight;
    private final Parameter bias;

    private LayerNorm(Backend backend, Builder b) {
        super(backend, b.dtype);
        Checks.eps(b.eps);
        this.normalizedShape = b.normalizedShape;
        this.eps = b.eps;
        this.weight = b.elementwiseAffine ? addParameter("weight", normalizedShape, 1) : null;
        this.bias = b.elementwiseAffine && b.bias ? addParameter("bias", normalizedShape, 0) : null;
    }

    /**
     * A builder with PyTorch's defaults: eps 1e-5, elementwise affine with bias.
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

    /**
     * The elementwise shift β, of the normalized shape.
     *
     * @return the bias, or null without elementwise affine or bias
     */
    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        return remember(Norms.layerNorm(x, normalizedShape, values(weight, bias), eps)).output();
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
     * Options of LayerNorm, PyTorch's defaults: eps 1e-5, elementwise affine with a bias, float32.
     */
    public static final class Builder {
        private final Shape normalizedShape;
        private double eps = 1e-5;
        private boolean elementwiseAffine = true;
        private boolean bias = true;
        private DType dtype = DType.FLOAT32;

        private Builder(Shape normalizedShape) {
            this.normalizedShape = normalizedShape;
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
         * Learn an elementwise weight (and bias); default true.
         *
         * @param elementwiseAffine whether to learn γ and β; default true
         * @return this builder
         */
        public Builder elementwiseAffine(boolean elementwiseAffine) {
            this.elementwiseAffine = elementwiseAffine;
            return this;
        }

        /**
         * With elementwise affine, learn a bias too; default true.
         *
         * @param bias whether to learn β with γ; default true
         * @return this builder
         */
        public Builder bias(boolean bias) {
            this.bias = bias;
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
        public LayerNorm build(Backend backend) {
            return new LayerNorm(backend, this);
        }
    }
}
