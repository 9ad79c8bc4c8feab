package dev.jnorm.norm;

import dev.jnorm.tensor.Tensor;

/**
 * SwitchableNorm's mixing logits, three each, in the order instance, layer, batch: the mean is
 * {@code Σ_k softmax(meanWeight)_k·mean_k}, the variance {@code Σ_k softmax(varWeight)_k·var_k}.
 */
public record MixingWeights(Tensor meanWeight, Tensor varWeight) {
}
