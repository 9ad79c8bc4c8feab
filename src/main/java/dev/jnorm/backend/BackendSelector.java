package dev.jnorm.backend;

import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Picks the backend for {@link Backend#auto()} and {@link Backend#named(String)}, and says why. */
final class BackendSelector {
    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    private BackendSelector() {
    }

    static Backend named(String name) {
        return switch (name) {
            case "cpu" -> new CpuBackend();
            case "auto" -> select();
            case "cuda" -> {
                try {
                    yield CudaBackend.open();
                } catch (CudaUnavailableException e) {
                    throw new IllegalArgumentException("the cuda backend is not available: " + e.getMessage());
                }
            }
            default -> throw new IllegalArgumentException("backend must be cpu, cuda or auto; got '" + name + "'");
        };
    }

    static Backend select() {
        try {
            Backend cuda = CudaBackend.open();
            LOG.info("using the {}", cuda.description());
            return cuda;
        } catch (CudaUnavailableException e) {
            Backend cpu = new CpuBackend();
            LOG.info("using the {}: {}", cpu.description(), e.getMessage());
            return cpu;
        }
    }
}
