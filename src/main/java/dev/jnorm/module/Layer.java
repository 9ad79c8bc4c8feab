package dev.jnorm.module;

import dev.jnorm.tensor.Tensor;
import java.util.List;

/**
 * A differentiable step of a network: {@link #forward} keeps what {@link #backward} needs (it may
 * keep a reference to its input, which the caller keeps open until the backward), and
 * {@link #backward} returns the input's gradient and adds the parameters' into their gradients.
 * Both results belong to the caller.
 */
public interface Layer extends AutoCloseable {

    Tensor forward(Tensor x);

    Tensor backward(Tensor dy);

    List<Parameter> parameters();

    /**
     * Training (true, the default) or evaluation mode; only some layers behave differently, the
     * others ignore it.
     */
    default Layer setTraining(boolean training) {
        return this;
    }

    @Override
    void close();
}
