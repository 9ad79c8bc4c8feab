package dev.jnorm.module;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Something with learnable parameters on one backend: it owns its parameters and buffers and
 * frees them on {@link #close()}, which is idempotent.
 */
public abstract class Module implements AutoCloseable {
    private final Backend backend;
    private final DType dtype;
    private final List<Parameter> parameters = new ArrayList<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private boolean closed;

    /**
     * A module for inputs of {@code dtype} whose parameters and buffers live on {@code backend} in
     * {@code dtype.parameterType()}: the same dtype, or float32 for 16-bit inputs.
     *
     * @param backend their backend
     * @param dtype the inputs' dtype
     */
    protected Module(Backend backend, DType dtype) {
        this.backend = backend;
        this.dtype = dtype;
    }

    /**
     * The backend its parameters and buffers live on.
     *
     * @return the backend
     */
    public Backend backend() {
        return backend;
    }

    /**
     * The dtype of the inputs; the parameters and buffers are in its {@link DType#parameterType()}.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The learnable parameters, in PyTorch's order.
     *
     * @return the parameters, an unmodifiable list
     */
    public List<Parameter> parameters() {
        return Collections.unmodifiableList(parameters);
    }

    /** Zeroes every parameter's gradient. */
    public void zeroGrad() {
        parameters.forEach(Parameter::zeroGrad);
    }

    /**
     * Adds a learnable parameter, owned by this module.
     *
     * @param name PyTorch's name for it
     * @param shape its shape
     * @param initial the value of every element
     * @return the parameter
     */
    protected Parameter addParameter(String name, Shape shape, double initial) {
        Parameter p = new Parameter(name, backend, shape, dtype.parameterType(), initial);
        parameters.add(p);
        owned.add(p);
        return p;
    }

    /**
     * Takes ownership of a buffer, freed with the module.
     *
     * @param <T> the buffer's type
     * @param buffer the buffer
     * @return {@code buffer}
     */
    protected <T extends AutoCloseable> T own(T buffer) {
        owned.add(buffer);
        return buffer;
    }

    /**
     * Refuses a closed module.
     *
     * @throws IllegalStateException once closed
     */
    protected void requireOpen() {
        if (closed) {
            throw new IllegalStateException(getClass().getSimpleName() + " is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing part of " + getClass().getSimpleName(), e);
            }
        }
    }
}
