package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Order;

/**
 * The CUDA backend's contract on the kernel emulator with an H200's geometry (132 SMs, 227 KiB of
 * opt-in shared memory): the chunk counts, launch sizes and path choices a real H200 gets. Threads
 * and blocks run in reverse order (the small geometry's test runs them forward), and shuffled, with
 * a fixed seed, for the second run of the race check.
 */
class EmulatedH200CudaTest extends EmulatedContract {
    EmulatedH200CudaTest() {
        super(Geometry.H200, Order.REVERSE, Order.SHUFFLE);
    }
}
