package dev.jnorm.module;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * A learnable tensor and its gradient. Backward passes add into {@link #grad()}, as PyTorch's
 * {@code .grad} accumulates, until {@link #zeroGrad()}.
 */
public final class Parameter implements AutoCloseable {
    private final String name;
    private final Tensor value;
    private final Tensor grad;

    /**
     * A parameter of {@code shape} filled with {@code initial}, its gradient zero.
     *
     * @param name PyTorch's name for it
     * @param backend where it lives
     * @param shape its shape
     * @param dtype its dtype
     * @param initial the value of every element
     */
    public Parameter(String name, Backend backend, Shape shape, DType dtype, double initial) {
        this.name = name;
        this.value = backend.allocate(shape, dtype);
        this.grad = backend.allocate(shape, dtype);
        if (initial != 0) {
            backend.fill(value, initial);
        }
    }

    /**
     * PyTorch's name for it: {@code weight}, {@code bias}, {@code rho}, {@code mean_weight}, ...
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * The parameter's value, which optimizers update in place.
     *
     * @return the value
     */
    public Tensor value() {
        return value;
    }

    /**
     * The gradient, accumulated by each backward until {@link #zeroGrad()}.
     *
     * @return the gradient
     */
    public Tensor grad() {
        return grad;
    }

    /**
     * Zeroes the gradient.
     */
    public void zeroGrad() {
        grad.backend().fill(grad, 0);
    }

    @Override
    public void close() {
        value.close();
        grad.close();
    }

    @Override
    public String toString() {
        return "Parameter " + name + " " + value.shape();
    }
}
