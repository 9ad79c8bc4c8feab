package dev.jnorm.backend.cuda;

/**
 * The device ran out of memory. Recoverable: the call that failed freed what it had allocated,
 * and the backend stays usable.
 */
public final class CudaOutOfMemoryException extends CudaException {

    public CudaOutOfMemoryException(String message) {
        super(message, "CUDA_ERROR_OUT_OF_MEMORY", false);
    }
}
