package dev.jnorm.backend;

import dev.jnorm.tensor.Tensor;

/**
 * Per-channel running mean and running (unbiased) variance. A training forward pass updates
 * them as {@code running = (1 − factor)·running + factor·batch}; an evaluation pass normalizes
 * with them.
 */
public record RunningStats(Tensor mean, Tensor var) {
}
