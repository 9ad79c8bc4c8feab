package dev.jnorm.bench;

import dev.jnorm.backend.cuda.DeviceInfo;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.InertDevice;
import dev.jnorm.backend.cuda.internal.Kernel;
import java.util.ArrayList;
import java.util.List;

/**
 * A device that runs nothing and records what the launch plans ask of it: the kernels each operation
 * launches, with their grids, on a device of the given description. Memory is addresses only, so
 * plans for shapes of any size cost nothing; what the kernels would compute is not there to read.
 */
final class LaunchRecorder extends InertDevice {
    /** One launch as a plan made it. */
    record Launch(Kernel kernel, long grid, int block, int sharedBytes) {
    }

    /** An H100/H200 as the launch plans see one: 132 SMs, 227 KiB of shared memory a block, 50 MB of L2. */
    static final DeviceInfo HOPPER = new DeviceInfo("H100/H200 (launch plans only)", 9, 0, 132, 227 << 10, 50L << 20,
            141L << 30, "none");

    private final DeviceInfo info;
    private final List<Launch> launches = new ArrayList<>();
    private long next = 1L << 20;

    LaunchRecorder(DeviceInfo info) {
        this.info = info;
    }

    /** The launches since the last call, in order, and forgets them. */
    List<Launch> take() {
        List<Launch> taken = List.copyOf(launches);
        launches.clear();
        return taken;
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public DevicePointer allocate(long bytes) {
        long address = next;
        next += (Math.max(bytes, 1) + 255) / 256 * 256;
        return new Address(address);
    }

    private record Address(long at) implements DevicePointer {
        @Override
        public DevicePointer plus(long bytes) {
            return new Address(at + bytes);
        }
    }

    @Override
    public void free(DevicePointer pointer) {
    }

    @Override
    public void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
        launches.add(new Launch(kernel, grid, block, sharedBytes));
    }
}
