package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;

/**
 * A normalization layer: a train/eval mode (training by default, as in PyTorch), a
 * {@link #forward} that keeps what its {@link #backward} needs, parameters whose gradients
 * accumulate. The tensors {@code forward} and {@code backward} return belong to the caller;
 * {@link #close()} frees the parameters, buffers and saved statistics.
 */
public abstract class NormLayer extends Module implements Layer {
    private ForwardResult last;
    private boolean training = true;

    protected NormLayer(Backend backend, DType dtype) {
        super(backend, dtype);
        own(() -> {
            if (last != null) {
                last.closeSaved();
            }
        });
    }

    /** Normalizes {@code x}, which must have this layer's dtype and backend. */
    @Override
    public abstract Tensor forward(Tensor x);

    /**
     * The gradient of the last forward's input for {@code dy}, the gradient of its output; adds the
     * parameters' gradients into their {@link Parameter#grad()}. Uses the parameters' current
     * values, so call it before updating them.
     */
    @Override
    public abstract Tensor backward(Tensor dy);

    /** The last forward's result: its output and saved statistics (owned by this layer, but the output). */
    public abstract ForwardResult lastForward();

    public boolean isTraining() {
        return training;
    }

    /** Sets training (true) or evaluation (false) mode. */
    @Override
    public NormLayer setTraining(boolean training) {
        this.training = training;
        return this;
    }

    public NormLayer train() {
        return setTraining(true);
    }

    public NormLayer eval() {
        return setTraining(false);
    }

    /** The input must be open, on this layer's backend, with this layer's dtype. */
    protected void checkInput(Tensor x) {
        requireOpen();
        Checks.input(x, "input");
        if (x.backend() != backend()) {
            throw Checks.fail("input is on the " + x.backend().name() + " backend, expected this layer's "
                    + backend().name() + " backend");
        }
        if (x.dtype() != dtype()) {
            throw Checks.fail("expected input of dtype " + dtype() + " (the layer's), got " + x.dtype());
        }
    }

    /** Keeps {@code result} for the next backward, freeing what the previous forward saved. */
    protected <T extends ForwardResult> T remember(T result) {
        if (last != null) {
            last.closeSaved();
        }
        last = result;
        return result;
    }

    /** The last forward's result as the type this layer's forward made. */
    protected <T extends ForwardResult> T lastForward(Class<T> type) {
        requireOpen();
        if (last == null) {
            throw new IllegalStateException("no forward() has run on this layer yet");
        }
        return type.cast(last);
    }

    protected static Tensor valueOf(Parameter p) {
        return p == null ? null : p.value();
    }

    protected static Tensor gradOf(Parameter p) {
        return p == null ? null : p.grad();
    }
}
