package dev.jnorm.bench;

import dev.jnorm.norm.NormConfig;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;

/**
 * One benchmark row: a norm (as {@code jnorm run --norm} names it), a direction (forward or
 * backward), a mode (train or eval), a shape and the storage dtype of its data (float32, float16 or
 * bfloat16; parameters and statistics float32); {@code groups} for GroupNorm, {@code normalizedDims}
 * for LayerNorm and RMSNorm (0 where the norm has no such setting).
 */
public record BenchCase(String norm, String direction, String mode, Shape shape, long groups, int normalizedDims,
                        DType dtype) {

    /** A float32 case. */
    public BenchCase(String norm, String direction, String mode, Shape shape, long groups, int normalizedDims) {
        this(norm, direction, mode, shape, groups, normalizedDims, DType.FLOAT32);
    }

    /** The case's norm in the {@link NormRegistry}. */
    public NormSpec spec() {
        return NormRegistry.named(norm);
    }

    /** The configuration the case builds its norm with: its groups and normalized dims, defaults otherwise. */
    public NormConfig config() {
        NormConfig config = NormConfig.defaults();
        if (groups > 0) {
            config = config.groups(groups);
        }
        if (normalizedDims > 0) {
            config = config.normalizedDims(normalizedDims);
        }
        // the suites time InstanceNorm as the CNNs use it, with its affine parameters
        return spec().settings().contains(NormSpec.Setting.AFFINE) ? config.affine(true) : config;
    }

    public boolean forward() {
        return direction.equals("forward");
    }

    public boolean training() {
        return mode.equals("train");
    }

    /** The values one statistic is taken over. */
    public long groupSize() {
        return spec().groupSize(shape, config());
    }

    /** The key rows from different implementations are matched on (the dtype named unless float32). */
    public String key() {
        return norm + " " + direction + " " + mode + " " + shape + (dtype == DType.FLOAT32 ? "" : " " + dtype);
    }
}
