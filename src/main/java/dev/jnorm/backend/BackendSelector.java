package dev.jnorm.backend;

import dev.jnorm.backend.cpu.CpuBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Picks the backend for {@link Backend#auto()} and says why. */
final class BackendSelector {
    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    private BackendSelector() {
    }

    static Backend named(String name) {
        return switch (name) {
            case "cpu" -> new CpuBackend();
            case "auto" -> select();
            case "cuda" -> throw new IllegalArgumentException("the cuda backend is not available: this build has none");
            default -> throw new IllegalArgumentException("backend must be cpu, cuda or auto; got '" + name + "'");
        };
    }

    static Backend select() {
        Backend cpu = new CpuBackend();
        LOG.info("using {}: this build has no CUDA backend", cpu.description());
        return cpu;
    }
}
