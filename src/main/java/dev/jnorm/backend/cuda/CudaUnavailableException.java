package dev.jnorm.backend.cuda;

/** No usable CUDA device: no driver, no device, or kernels the driver cannot load. The message says which. */
public final class CudaUnavailableException extends RuntimeException {

    /**
     * Why no CUDA backend can start.
     *
     * @param reason what is missing, and what to do
     */
    public CudaUnavailableException(String reason) {
        super(reason);
    }
}
