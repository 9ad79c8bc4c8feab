package dev.jnorm.bench;

import dev.jnorm.tensor.Shape;

/**
 * One benchmark row: a norm (as {@code jnorm run --norm} names it), a direction (forward or
 * backward), a mode (train or eval) and a shape; {@code groups} for GroupNorm, {@code normalizedDims}
 * for LayerNorm and RMSNorm.
 */
public record BenchCase(String norm, String direction, String mode, Shape shape, long groups, int normalizedDims) {

    public boolean forward() {
        return direction.equals("forward");
    }

    /** The values one statistic is taken over, for the norms with one kind of group. */
    public long groupSize() {
        long n = shape.dim(0);
        long c = shape.rank() > 1 ? shape.dim(1) : 1;
        long s = shape.product(2, shape.rank());
        return switch (norm) {
            case "batch" -> n * s;
            case "instance" -> s;
            case "group" -> c / groups * s;
            case "layer", "rms" -> shape.product(shape.rank() - normalizedDims, shape.rank());
            case "weight" -> shape.numel() / n;
            default -> n * s; // batch-instance and switchable need batch statistics too
        };
    }

    /** The key rows from different implementations are matched on. */
    public String key() {
        return norm + " " + direction + " " + mode + " " + shape;
    }
}
