package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;

/** {@code y = max(x, 0)}; backward passes dy where y > 0. Keeps a reference to its output. */
public final class Relu extends Module implements Layer {
    private Tensor output;

    /**
     * The activation.
     *
     * @param backend where it computes
     * @param dtype its dtype
     */
    public Relu(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireOpen();
        Tensor y = backend().empty(x.shape(), x.dtype());
        backend().network().relu(x, y);
        output = y;
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireOpen();
        Layers.requireForward(output, dy);
        Layers.requireGradOutput(dy, output.shape());
        Tensor dx = backend().empty(dy.shape(), dy.dtype());
        backend().network().reluBackward(output, dy, dx);
        return dx;
    }
}
