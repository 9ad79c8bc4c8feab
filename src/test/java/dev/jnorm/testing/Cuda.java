package dev.jnorm.testing;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;

/** Whether a real CUDA backend can be opened here, for tests whose expectation depends on it. */
public final class Cuda {
    private Cuda() {
    }

    /** Null where a CUDA backend opens; otherwise why it does not (the backend's own message). */
    public static String unavailableReason() {
        try (CudaBackend probe = CudaBackend.open()) {
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }
}
