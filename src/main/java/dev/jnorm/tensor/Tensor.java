package dev.jnorm.tensor;

import dev.jnorm.backend.Backend;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A dense, contiguous, row-major array of float32 or float64 values that lives on one
 * {@link Backend} (host memory for the CPU backend, device memory for CUDA).
 *
 * <p>A tensor owns its storage and frees it on {@link #close()}, which is idempotent. A
 * {@linkplain #view view} shares its base's storage: closing a view frees nothing, and a view
 * reads as closed once its base is.
 */
public abstract class Tensor implements AutoCloseable {
    private final Shape shape;
    private final DType dtype;
    private final Tensor base;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * A tensor of {@code shape} and {@code dtype}.
     *
     * @param shape its shape
     * @param dtype its dtype
     * @param base the tensor whose storage this one views, or null if it owns its storage
     */
    protected Tensor(Shape shape, DType dtype, Tensor base) {
        this.shape = shape;
        this.dtype = dtype;
        this.base = base;
    }

    /**
     * The tensor's shape.
     *
     * @return its shape
     */
    public final Shape shape() {
        return shape;
    }

    /**
     * The dtype its elements are stored in.
     *
     * @return its dtype
     */
    public final DType dtype() {
        return dtype;
    }

    /**
     * The number of elements.
     *
     * @return the product of the shape's dims
     */
    public final long numel() {
        return shape.numel();
    }

    /**
     * The backend whose memory holds this tensor.
     *
     * @return its backend
     */
    public abstract Backend backend();

    /**
     * A tensor of {@code shape} over this one's elements {@code offset .. offset + shape.numel()}, sharing storage.
     *
     * @param offset the first element viewed
     * @param shape the view's shape
     * @return the view; closing it frees nothing
     * @throws IllegalArgumentException where the view does not fit
     */
    public final Tensor view(long offset, Shape shape) {
        requireOpen();
        if (offset < 0 || shape.numel() > numel() - offset) {
            throw new IllegalArgumentException("view of " + shape + " at offset " + offset
                    + " does not fit in a tensor of " + this.shape);
        }
        return createView(offset, shape);
    }

    /**
     * The same elements under another shape with as many elements, sharing storage.
     *
     * @param shape the new shape
     * @return the view
     * @throws IllegalArgumentException for another number of elements, with PyTorch's message
     */
    public final Tensor reshape(Shape shape) {
        if (shape.numel() != numel()) {
            throw new IllegalArgumentException("shape '" + shape + "' is invalid for input of size " + numel());
        }
        return view(0, shape);
    }

    /**
     * Makes the view {@link #view} checked.
     *
     * @param offset the first element viewed
     * @param shape the view's shape
     * @return the view
     */
    protected abstract Tensor createView(long offset, Shape shape);

    /**
     * Copies the elements to a new host array, rounding float64 to float32 if needed.
     *
     * @return the values, in C order
     */
    public abstract float[] toFloatArray();

    /**
     * Copies the elements to a new host array.
     *
     * @return the values, in C order
     */
    public abstract double[] toDoubleArray();

    /**
     * Overwrites every element from a host array of {@link #numel()} values.
     *
     * @param values the values, in C order
     */
    public abstract void copyFrom(float[] values);

    /**
     * Overwrites every element from a host array of {@link #numel()} values, rounding to this dtype.
     *
     * @param values the values, in C order
     */
    public abstract void copyFrom(double[] values);

    /**
     * Whether it, or the tensor it views, is closed.
     *
     * @return true once closed
     */
    public final boolean isClosed() {
        return closed.get() || (base != null && base.isClosed());
    }

    /** Throws if this tensor (or the tensor it views) has been closed. */
    public final void requireOpen() {
        if (isClosed()) {
            throw new IllegalStateException("tensor " + shape + " is closed");
        }
    }

    /** Frees the storage once; later calls do nothing. Views free nothing. */
    @Override
    public final void close() {
        if (closed.compareAndSet(false, true) && base == null) {
            release();
        }
    }

    /** Frees the storage this tensor owns; called once. */
    protected abstract void release();

    /**
     * Checks that a host array can hold {@code n} elements.
     *
     * @param n the number of elements
     * @return n as an int
     * @throws IllegalArgumentException where it is too many
     */
    protected static int hostLength(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a host array holds at most " + (Integer.MAX_VALUE - 8)
                    + " elements, this tensor has " + n);
        }
        return (int) n;
    }

    /**
     * Checks that a host array of {@code length} values matches this tensor.
     *
     * @param length the array's length
     * @throws IllegalArgumentException otherwise
     */
    protected final void requireLength(int length) {
        if (length != numel()) {
            throw new IllegalArgumentException("expected " + numel() + " values for a tensor of " + shape
                    + ", got " + length);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype + " on " + backend().name() + (isClosed() ? " (closed)" : "");
    }
}
