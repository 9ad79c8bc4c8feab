package dev.jnorm.io;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The contents of a {@code .npy} file on the host: shape, dtype and the values in C order. Values
 * are held as doubles, which represent float32 values exactly.
 */
public record NpyArray(Shape shape, DType dtype, double[] values) {

    /**
     * Checks that there are as many values as the shape has elements.
     *
     * @param shape the array's shape
     * @param dtype the dtype the file stores
     * @param values the values in C order
     * @throws IllegalArgumentException for another number of values
     */
    public NpyArray {
        if (values.length != shape.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
    }

    /**
     * A copy of a tensor's contents.
     *
     * @param t the tensor
     * @return its shape, dtype and values
     */
    public static NpyArray of(Tensor t) {
        return new NpyArray(t.shape(), t.dtype(), t.toDoubleArray());
    }

    /**
     * The same values labelled {@code dtype}: exact to a wider dtype, rounded once to a narrower one.
     *
     * @param dtype the dtype
     * @return the array in {@code dtype}
     */
    public NpyArray as(DType dtype) {
        if (dtype == this.dtype) {
            return this;
        }
        double[] v = values.clone();
        for (int i = 0; i < v.length; i++) {
            v[i] = dtype.round(v[i]);
        }
        return new NpyArray(shape, dtype, v);
    }

    /**
     * A new tensor on {@code backend} holding these values as {@code dtype}.
     *
     * @param backend where the tensor lives
     * @param dtype its dtype
     * @return the tensor, the caller's to close
     */
    public Tensor toTensor(Backend backend, DType dtype) {
        Tensor t = backend.allocate(shape, dtype);
        t.copyFrom(values);
        return t;
    }

    /**
     * The examples {@code first .. first + count} along the first dim (a rank's local batch).
     *
     * @param first the first index along dim 0
     * @param count how many
     * @return them, as an array of their own
     */
    public NpyArray rows(long first, long count) {
        long per = shape.rank() == 0 || shape.dim(0) == 0 ? 0 : shape.numel() / shape.dim(0);
        long[] dims = shape.dims();
        dims[0] = count;
        return new NpyArray(Shape.of(dims), dtype,
                java.util.Arrays.copyOfRange(values, (int) (first * per), (int) ((first + count) * per)));
    }

    /**
     * Arrays of the same trailing shape and dtype, one after another along the first dim.
     *
     * @param parts at least one array
     * @return their concatenation
     */
    public static NpyArray concatenate(java.util.List<NpyArray> parts) {
        long[] dims = parts.get(0).shape().dims();
        dims[0] = parts.stream().mapToLong(p -> p.shape().dim(0)).sum();
        double[] all = parts.stream().flatMapToDouble(p -> java.util.Arrays.stream(p.values())).toArray();
        return new NpyArray(Shape.of(dims), parts.get(0).dtype(), all);
    }
}
