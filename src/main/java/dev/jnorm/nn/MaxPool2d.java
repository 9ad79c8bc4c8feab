package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/** 2×2 max pooling with stride 2 over {@code [N, C, H, W]} (H and W halved, rounded down). */
public final class MaxPool2d extends Module implements Layer {
    private Shape inputShape;
    private Tensor window;

    /**
     * The pooling layer.
     *
     * @param backend where it computes
     * @param dtype its dtype
     */
    public MaxPool2d(Backend backend, DType dtype) {
        super(backend, dtype);
        own(() -> {
            if (window != null) {
                window.close();
            }
        });
    }

    @Override
    public Tensor forward(Tensor x) {
        requireOpen();
        Shape s = x.shape();
        if (s.rank() != 4) {
            throw new IllegalArgumentException("MaxPool2d expects input [N, C, H, W], got " + s);
        }
        Shape out = Shape.of(s.dim(0), s.dim(1), s.dim(2) / 2, s.dim(3) / 2);
        Tensor y = backend().empty(out, dtype());
        Tensor w = backend().empty(out, dtype());
        backend().network().maxPool(x, s.dim(0) * s.dim(1), (int) s.dim(2), (int) s.dim(3), y, w);
        if (window != null) {
            window.close();
        }
        window = w;
        inputShape = s;
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireOpen();
        Layers.requireForward(window, dy);
        Layers.requireGradOutput(dy, window.shape());
        Tensor dx = backend().empty(inputShape, dtype());
        backend().network().maxPoolBackward(dy, window, inputShape.dim(0) * inputShape.dim(1), (int) inputShape.dim(2),
                (int) inputShape.dim(3), dx);
        return dx;
    }
}
