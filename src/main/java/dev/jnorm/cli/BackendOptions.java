package dev.jnorm.cli;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import dev.jnorm.backend.cuda.EmulatedDevice;
import dev.jnorm.backend.cuda.EmulatedDevice.Geometry;
import picocli.CommandLine.Option;

/** The options choosing where a command computes: {@code --backend}, {@code --emulate} and {@code --sync}. */
final class BackendOptions {
    @Option(names = "--backend", paramLabel = "cpu|cuda|emulated|auto", defaultValue = "auto",
            description = "Where to compute (default: ${DEFAULT-VALUE}: CUDA if usable, else the CPU). emulated: the "
                    + "CUDA backend on the CPU emulator of its kernels, where it is built (never chosen by auto).")
    String backend;

    @Option(names = "--emulate", paramLabel = "h200|h100|small",
            description = "With --backend emulated: the device whose geometry the emulator takes (default h200).")
    String emulate;

    @Option(names = "--sync",
            description = "CUDA backends: wait for each kernel to finish, so that a fault names its kernel (slow).")
    boolean sync;

    /** The backend these options name. */
    Backend open() {
        if (emulate != null && !backend.equals("emulated")) {
            throw new IllegalArgumentException("--emulate applies to --backend emulated, not to --backend " + backend);
        }
        return switch (backend) {
            case "cpu" -> Backend.cpu();
            case "cuda" -> {
                try {
                    yield CudaBackend.open(sync);
                } catch (CudaUnavailableException e) {
                    throw new IllegalArgumentException("the cuda backend is not available: " + e.getMessage());
                }
            }
            case "emulated" -> {
                Geometry geometry;
                try {
                    geometry = Geometry.named(emulate == null ? "h200" : emulate);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--emulate must be h200, h100 or small; got '" + emulate + "'");
                }
                try {
                    yield new CudaBackend(new EmulatedDevice(geometry), sync);
                } catch (CudaUnavailableException e) {
                    throw new IllegalArgumentException("the emulated backend is not available: " + e.getMessage());
                }
            }
            case "auto" -> Backend.auto(sync);
            default -> throw new IllegalArgumentException(
                    "--backend must be cpu, cuda, emulated or auto; got '" + backend + "'");
        };
    }
}
