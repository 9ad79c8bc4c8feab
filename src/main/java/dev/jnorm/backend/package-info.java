/**
 * The backend seam: {@link dev.jnorm.backend.Backend} holds tensors and runs each pass of a norm, a
 * {@link dev.jnorm.backend.NormOp} that computes itself on the CPU (its float64 reference) or on a
 * CUDA device (its launch plan). {@code Backend.cpu()}, {@code Backend.auto()} and
 * {@code Backend.named(...)} choose one; the layouts ({@link dev.jnorm.backend.RowsLayout},
 * {@link dev.jnorm.backend.NcsLayout}) say how a norm sees its input.
 */
package dev.jnorm.backend;
