package dev.jnorm.cli;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import java.util.List;
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
        if (!List.of("cpu", "cuda", "emulated", "auto").contains(backend)) {
            throw new IllegalArgumentException("--backend must be cpu, cuda, emulated or auto; got '" + backend + "'");
        }
        if (emulate == null) {
            return Backend.named(backend, sync);
        }
        if (!backend.equals("emulated")) {
            throw new IllegalArgumentException("--emulate applies to --backend emulated, not to --backend " + backend);
        }
        try {
            EmulatedDevice.Geometry.named(emulate);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--emulate must be h200, h100 or small; got '" + emulate + "'");
        }
        return Backend.named("emulated:" + emulate, sync);
    }
}
