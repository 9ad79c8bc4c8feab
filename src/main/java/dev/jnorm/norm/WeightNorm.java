package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.module.Module;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.OptionalInt;

/**
 * Weight normalization (Salimans &amp; Kingma, 2016): a weight reparameterized as
 * {@code w = g·v/‖v‖}, the norm over every dim but {@code dim}, so that the direction {@code v}
 * and the magnitude {@code g} are learned apart. {@code g} has PyTorch's keepdim shape (size 1 but
 * along {@code dim}; a scalar when {@code dim} is null) and starts at {@code ‖v‖}, so the initial
 * {@code w} is the weight given. A 16-bit weight is kept as float32 master weights ({@code v},
 * {@code g}, {@code w} and the gradient passed to {@link #backward} in float32), as mixed-precision
 * training keeps weights.
 */
public final class WeightNorm extends Module {
    private final Integer dim;
    private final Parameter v;
    private final Parameter g;
    private WeightNormOutput last;

    private WeightNorm(Tensor weight, Integer dim) {
        super(weight.backend(), weight.dtype());
        Checks.input(weight, "weight");
        NcsLayout layout = Norms.weightNormLayout(weight.shape(), dim);
        this.dim = dim;
        this.v = addParameter("v", weight.shape(), 0);
        this.g = addParameter("g", keepdimShape(weight.shape(), layout, dim), 1);
        backend().copy(weight, v.value());
        try (WeightNormOutput unit = Norms.weightNorm(v.value(), g.value(), dim)) {
            backend().copy(unit.norm(), g.value());
        }
        own(() -> {
            if (last != null) {
                last.closeSaved();
            }
        });
    }

    /**
     * A builder normalizing along dim 0, as PyTorch's {@code weight_norm}.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    private static Shape keepdimShape(Shape shape, NcsLayout layout, Integer dim) {
        if (layout.n() * layout.s() == shape.numel() && layout.c() == 1 && (dim == null || dim == -1)) {
            return Shape.of();
        }
        long[] dims = new long[shape.rank()];
        java.util.Arrays.fill(dims, 1);
        int d = dim < 0 ? dim + shape.rank() : dim;
        dims[d] = shape.dim(d);
        return Shape.of(dims);
    }

    /**
     * The dim kept by the norm; empty for a norm over the whole tensor.
     *
     * @return the dim, or empty for the whole tensor
     */
    public OptionalInt dim() {
        return dim == null ? OptionalInt.empty() : OptionalInt.of(dim);
    }

    /**
     * The direction, shaped like the weight.
     *
     * @return v, the weight's direction
     */
    public Parameter v() {
        return v;
    }

    /**
     * The magnitude per slice along {@code dim}.
     *
     * @return g, its magnitudes
     */
    public Parameter g() {
        return g;
    }

    /**
     * The weight {@code w = g·v/‖v‖}; the result belongs to the caller.
     *
     * @return {@code w}, the caller's to close
     */
    public Tensor forward() {
        requireOpen();
        WeightNormOutput out = Norms.weightNorm(v.value(), g.value(), dim);
        if (last != null) {
            last.closeSaved();
        }
        last = out;
        return out.output();
    }

    /**
     * Adds the gradients of v and g for {@code dw}, the gradient of the last forward's weight.
     *
     * @param dw the loss's gradient by the weight {@code w} of the last forward
     */
    public void backward(Tensor dw) {
        lastForward().backward(dw, g.value(), v.grad(), g.grad());
    }

    /**
     * The last forward's result.
     *
     * @return its weight and the norms it saved
     * @throws IllegalStateException before any forward
     */
    public WeightNormOutput lastForward() {
        requireOpen();
        if (last == null) {
            throw new IllegalStateException("no forward() has run on this layer yet");
        }
        return last;
    }

    /**
     * Options of WeightNorm: the dim whose slices are normalized, PyTorch's {@code dim=0} by default.
     */
    public static final class Builder {
        private Integer dim = 0;

        private Builder() {
        }

        /**
         * The dim kept by the norm: one {@code g} per slice along it; default 0; −1 is the whole tensor, as in PyTorch.
         *
         * @param dim a dim of the weight, negative from the end; −1 (PyTorch's) is the whole tensor
         * @return this builder
         */
        public Builder dim(int dim) {
            this.dim = dim == -1 ? null : dim;
            return this;
        }

        /**
         * A norm over the whole tensor, with a single {@code g}: PyTorch's {@code dim=None}.
         *
         * @return this builder
         */
        public Builder wholeTensor() {
            this.dim = null;
            return this;
        }

        /**
         * Reparameterizes {@code weight}, whose backend and dtype the layer takes; the weight is copied.
         *
         * @param weight the weight to reparameterize, the initial {@code v}; {@code g} starts at its norms
         * @return the layer, whose forward gives back {@code weight}'s values
         */
        public WeightNorm build(Tensor weight) {
            return new WeightNorm(weight, dim);
        }
    }
}
