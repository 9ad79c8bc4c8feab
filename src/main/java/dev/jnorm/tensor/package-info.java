/**
 * Tensors: {@link dev.jnorm.tensor.Shape} (64-bit sizes, C order), {@link dev.jnorm.tensor.DType}
 * and {@link dev.jnorm.tensor.Tensor}, whose storage a {@link dev.jnorm.backend.Backend} holds. A
 * tensor is {@code AutoCloseable}; closing twice is fine, and views share their base's storage.
 */
package dev.jnorm.tensor;
