package dev.jnorm.backend;

import dev.jnorm.tensor.Shape;

/**
 * An activation {@code [N, C, *spatial]} seen as {@code [N, C, S]} with S the product of the
 * spatial sizes (1 when there are none). Element {@code (n, c, s)} sits at {@code (n·C + c)·S + s}.
 */
public record NcsLayout(long n, long c, long s) {

    /**
     * The layout of an input of rank 2 or more.
     *
     * @param shape {@code [N, C, *]}, rank 2 or more
     * @return its layout
     */
    public static NcsLayout of(Shape shape) {
        return new NcsLayout(shape.dim(0), shape.dim(1), shape.product(2, shape.rank()));
    }

    /**
     * The number of values.
     *
     * @return N·C·S
     */
    public long numel() {
        return n * c * s;
    }
}
