/**
 * The CUDA backend: {@link dev.jnorm.backend.cuda.CudaBackend} on a GPU through JCuda, or on the
 * kernel emulator; device tensors, the device's properties, and the exceptions a CUDA error
 * becomes (sticky or not, out of memory, no usable device).
 */
package dev.jnorm.backend.cuda;
