package dev.jnorm.backend;

import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Picks the backend for {@link Backend#auto()} and {@link Backend#named(String)}, and says why. */
final class BackendSelector {
    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    private BackendSelector() {
    }

    static Backend named(String name, boolean sync) {
        if (name.equals("emulated") || name.startsWith("emulated:")) {
            String geometry = name.equals("emulated") ? System.getProperty(EmulatedDevice.GEOMETRY_PROPERTY, "h200")
                    : name.substring("emulated:".length());
            try {
                return new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.named(geometry)), sync);
            } catch (CudaUnavailableException e) {
                throw new IllegalArgumentException("the emulated backend is not available: " + e.getMessage());
            }
        }
        return switch (name) {
            case "cpu" -> new CpuBackend();
            case "auto" -> select(sync);
            case "cuda" -> {
                try {
                    yield CudaBackend.open(sync);
                } catch (CudaUnavailableException e) {
                    throw new IllegalArgumentException("the cuda backend is not available: " + e.getMessage());
                }
            }
            default -> throw new IllegalArgumentException(
                    "backend must be cpu, cuda, emulated or auto; got '" + name + "'");
        };
    }

    /** CUDA if usable, else the CPU; never the emulator. */
    static Backend select(boolean syncEachLaunch) {
        try {
            Backend cuda = CudaBackend.open(syncEachLaunch);
            LOG.info("using the {}", cuda.description());
            return cuda;
        } catch (CudaUnavailableException e) {
            Backend cpu = new CpuBackend();
            LOG.info("using the {}: {}", cpu.description(), e.getMessage());
            return cpu;
        }
    }
}
