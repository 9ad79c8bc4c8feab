package dev.jnorm.backend.cuda;

/**
 * A CUDA error, with the operation and device it happened in. A sticky error (an illegal address
 * and the like) leaves the context unusable: the backend refuses every later call.
 */
public class CudaException extends RuntimeException {
    /**
     * The CUDA error's name.
     */
    private final String error;
    /**
     * Whether the error left the context unusable.
     */
    private final boolean sticky;

    /**
     * An error of the operation {@code message} describes.
     *
     * @param message what failed, where
     * @param error the CUDA error's name
     * @param sticky whether it left the context unusable
     */
    public CudaException(String message, String error, boolean sticky) {
        super(message);
        this.error = error;
        this.sticky = sticky;
    }

    /**
     * The CUDA error name, such as {@code CUDA_ERROR_ILLEGAL_ADDRESS}.
     *
     * @return the name
     */
    public String error() {
        return error;
    }

    /**
     * Whether the context is unusable after it, so that the backend refuses every later call.
     *
     * @return true for a sticky error
     */
    public boolean sticky() {
        return sticky;
    }

    /** The same error, its message prefixed with where it happened. */
    CudaException in(String context) {
        return in(context + ": ", "");
    }

    /** The same error, its message between {@code prefix} and {@code suffix}. */
    CudaException in(String prefix, String suffix) {
        String message = prefix + getMessage() + suffix;
        CudaException e = this instanceof CudaOutOfMemoryException
                ? new CudaOutOfMemoryException(message)
                : new CudaException(message, error, sticky);
        e.initCause(this);
        return e;
    }
}
