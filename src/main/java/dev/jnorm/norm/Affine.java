package dev.jnorm.norm;

import dev.jnorm.tensor.Tensor;

/**
 * The affine parameters of a norm's functional form, {@code y = x̂·weight + bias}: per channel, or
 * of the normalized shape for LayerNorm and RMSNorm. Either may be null, meaning 1 and 0.
 */
public record Affine(Tensor weight, Tensor bias) {
    /** No affine: {@code y = x̂}. */
    public static final Affine NONE = new Affine(null, null);

    /**
     * A weight and no bias (RMSNorm's affine).
     *
     * @param weight the weight, or null
     * @return the affine parameters
     */
    public static Affine weightOnly(Tensor weight) {
        return new Affine(weight, null);
    }
}
