package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Order;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import org.junit.jupiter.api.Tag;

/**
 * The CUDA backend's contract on the kernel emulator, with a device's geometry, threads and blocks
 * run in one order, and the second run of the race check in another.
 */
@Tag("emulator")
abstract class EmulatedContract extends CudaBackendContract {
    private final Geometry geometry;
    private final Order first;
    private final Order second;
    private final long seed;
    private EmulatedDevice device;

    EmulatedContract(Geometry geometry, Order first, Order second) {
        this(geometry, first, second, 20261201);
    }

    /** @param seed drives the shuffles: the first run's, and seed + 1 the second run's */
    EmulatedContract(Geometry geometry, Order first, Order second, long seed) {
        this.geometry = geometry;
        this.first = first;
        this.second = second;
        this.seed = seed;
    }

    @Override
    protected CudaBackend open() {
        device = new EmulatedDevice(geometry);
        otherOrder(false);
        return new CudaBackend(device);
    }

    @Override
    protected void otherOrder(boolean other) {
        Order o = other ? second : first;
        device.order(o, o, other ? seed + 1 : seed);
    }
}
