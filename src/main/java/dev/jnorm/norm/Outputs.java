package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors one call allocates for its results. Unless the call reaches {@link #keep()}, closing
 * frees them all, so a call that fails (out of device memory, say) leaves nothing behind.
 */
final class Outputs implements AutoCloseable {
    private final Backend backend;
    private final DType dtype;
    private final List<Tensor> made = new ArrayList<>();

    Outputs(Backend backend, DType dtype) {
        this.backend = backend;
        this.dtype = dtype;
    }

    /** A new tensor in the input's dtype, to be overwritten by the backend. */
    Tensor empty(Shape shape) {
        return made(backend.empty(shape, dtype));
    }

    /** A new tensor for statistics (float32 for 16-bit input), to be overwritten by the backend. */
    Tensor stats(Shape shape) {
        return made(backend.empty(shape, dtype.parameterType()));
    }

    private Tensor made(Tensor t) {
        made.add(t);
        return t;
    }

    /** The call succeeded: its results belong to the caller now. */
    void keep() {
        made.clear();
    }

    @Override
    public void close() {
        made.forEach(Tensor::close);
    }
}
