package dev.jnorm.backend.cuda;

/**
 * The device ran out of memory. Recoverable: the call that failed freed what it had allocated,
 * and the backend stays usable.
 */
public final class CudaOutOfMemoryException extends CudaException {

    /**
     * An out-of-memory error.
     *
     * @param message what failed to allocate, where
     */
    public CudaOutOfMemoryException(String message) {
        super(message, "CUDA_ERROR_OUT_OF_MEMORY", false);
    }
}
