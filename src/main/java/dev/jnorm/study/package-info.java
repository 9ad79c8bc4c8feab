/**
 * The small-batch study of {@code jnorm study small-batch}: a small CNN trained with each norm at
 * each batch size on Fashion-MNIST, after Figure 1 of the GroupNorm paper.
 */
package dev.jnorm.study;
