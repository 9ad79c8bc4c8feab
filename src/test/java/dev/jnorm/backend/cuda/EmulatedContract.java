package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.EmulatedDevice.Order;
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
    private EmulatedDevice device;

    EmulatedContract(Geometry geometry, Order first, Order second) {
        this.geometry = geometry;
        this.first = first;
        this.second = second;
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
        device.order(o, o, 20261201);
    }
}
