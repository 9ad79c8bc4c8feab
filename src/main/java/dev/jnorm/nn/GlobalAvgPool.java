package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/** {@code [N, C, *spatial] → [N, C]}: the mean over the spatial values. */
public final class GlobalAvgPool extends Module implements Layer {
    private Shape inputShape;

    /**
     * The pooling layer.
     *
     * @param backend where it computes
     * @param dtype its dtype
     */
    public GlobalAvgPool(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireOpen();
        NcsLayout l = NcsLayout.of(x.shape());
        Tensor y = backend().empty(Shape.of(l.n(), l.c()), dtype());
        backend().network().averagePool(x, l, y);
        inputShape = x.shape();
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireOpen();
        Layers.requireForward(inputShape, dy);
        NcsLayout l = NcsLayout.of(inputShape);
        Layers.requireGradOutput(dy, Shape.of(l.n(), l.c()));
        Tensor dx = backend().empty(inputShape, dtype());
        backend().network().averagePoolBackward(dy, l, dx);
        return dx;
    }
}
