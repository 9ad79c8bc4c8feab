package dev.jnorm.tensor;

import java.util.Arrays;

/** An immutable tensor shape, row-major (C order). Sizes are 64-bit. */
public final class Shape {
    private final long[] dims;
    private final long numel;

    private Shape(long[] dims) {
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
            }
        }
        this.dims = dims;
        this.numel = product(0, dims.length); // fails early on overflow
    }

    /**
     * A shape of these sizes.
     *
     * @param dims the sizes, each non-negative
     * @return the shape
     * @throws IllegalArgumentException for a negative size, or more elements than a long counts
     */
    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return dims.length;
    }

    /**
     * Size of dimension {@code i}; negative {@code i} counts from the end.
     *
     * @param i the dimension, from −rank to rank − 1
     * @return its size
     * @throws IllegalArgumentException out of range, with PyTorch's message
     */
    public long dim(int i) {
        int k = i < 0 ? dims.length + i : i;
        if (k < 0 || k >= dims.length) {
            throw new IllegalArgumentException("Dimension out of range (expected to be in range of ["
                    + (-dims.length) + ", " + (dims.length - 1) + "], but got " + i + ")");
        }
        return dims[k];
    }

    /**
     * The sizes.
     *
     * @return a copy of them
     */
    public long[] dims() {
        return dims.clone();
    }

    /**
     * Number of elements: the product of all sizes (1 for rank 0).
     *
     * @return the number of elements
     */
    public long numel() {
        return numel;
    }

    /**
     * Product of the sizes of dimensions {@code from} (inclusive) to {@code to} (exclusive).
     *
     * @param from the first dimension
     * @param to the dimension after the last
     * @return the product, 1 when empty
     */
    public long product(int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p = Math.multiplyExact(p, dims[i]);
        }
        return p;
    }

    /**
     * The shape made of dimensions {@code from} to {@code to}.
     *
     * @param from the first dimension
     * @param to the dimension after the last
     * @return the shape
     */
    public Shape slice(int from, int to) {
        return new Shape(Arrays.copyOfRange(dims, from, to));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** PyTorch's way of printing a size: {@code [2, 3]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
