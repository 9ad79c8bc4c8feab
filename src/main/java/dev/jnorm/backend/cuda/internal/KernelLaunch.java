package dev.jnorm.backend.cuda.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The arguments of one kernel launch, set by name through the generated subclasses of
 * {@link Kernels}, then launched with the block size the kernel is declared for.
 *
 * @param <L> the kernel's launch class, which the setters return
 */
public abstract class KernelLaunch<L extends KernelLaunch<L>> {
    private final Kernel kernel;
    private final Object[] args;
    private final boolean[] given;

    protected KernelLaunch(Kernel kernel) {
        this.kernel = kernel;
        this.args = new Object[kernel.parameters().size()];
        this.given = new boolean[args.length];
    }

    /** Sets parameter {@code index}; a null pointer is a value like any other. */
    @SuppressWarnings("unchecked")
    protected final L set(int index, Object value) {
        args[index] = value;
        given[index] = true;
        return (L) this;
    }

    public final Kernel kernel() {
        return kernel;
    }

    /** Launches over {@code grid} blocks without dynamic shared memory. */
    public final void launch(Launcher launcher, long grid) {
        launch(launcher, grid, 0);
    }

    /**
     * Launches over {@code grid} blocks of the kernel's declared block size, with
     * {@code sharedBytes} of dynamic shared memory.
     *
     * @throws IllegalStateException when a parameter was not set
     */
    public final void launch(Launcher launcher, long grid, int sharedBytes) {
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (!given[i]) {
                missing.add(kernel.parameters().get(i).name());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException(kernel.entry() + " launched without " + String.join(", ", missing));
        }
        launcher.launch(kernel, grid, kernel.block(), sharedBytes, args.clone());
    }

    /** Where a launch goes: the backend, which queues it on its device. */
    public interface Launcher {
        void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args);
    }
}
