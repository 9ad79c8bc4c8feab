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

    /**
     * The output for {@code x}, keeping what the backward needs.
     *
     * @param x the input
     * @return the output, the caller's to close
     */
    Tensor forward(Tensor x);

    /**
     * The input's gradient for the output's gradient {@code dy}; adds the parameters' gradients into theirs.
     *
     * @param dy the output's gradient
     * @return the input's gradient, the caller's to close
     */
    Tensor backward(Tensor dy);

    /**
     * The learnable parameters.
     *
     * @return them, in PyTorch's order
     */
    List<Parameter> parameters();

    /**
     * Training (true, the default) or evaluation mode; only some layers behave differently, the
     * others ignore it.
     *
     * @param training the mode
     * @return this layer
     */
    default Layer setTraining(boolean training) {
        return this;
    }

    @Override
    void close();
}
