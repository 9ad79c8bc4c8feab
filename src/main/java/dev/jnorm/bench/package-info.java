/**
 * The benchmark of {@code jnorm bench}: shape suites per norm, the minimal bytes each case moves,
 * timing against the measured copy bandwidth, and the comparison with PyTorch's results.
 */
package dev.jnorm.bench;
