package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Order;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's contract on the CPU emulator of its kernels, with a small device's geometry (2
 * SMs, 64 KiB of shared memory) so that small inputs reach every path, threads and blocks in
 * forward order (reverse for the second run of the race check): runs on any machine with g++. In
 * debug mode, so that outputs start as NaN. Also the error handling a GPU cannot be made to show on
 * demand: out of memory, and a sticky error.
 */
class EmulatedCudaTest extends EmulatedContract {
    EmulatedCudaTest() {
        super(Geometry.SMALL, Order.FORWARD, Order.REVERSE);
    }

    @Test
    void outOfMemoryIsRecoverableAndFreesWhatTheCallTook() {
        try (CudaBackend small = new CudaBackend(new EmulatedDevice(Geometry.SMALL, 28 << 10));
             GroupNorm gn = GroupNorm.builder(2, 4).build(small);
             Tensor x = small.upload(new float[4096], Shape.of(2, 4, 512))) {
            long live = small.liveTensors();
            CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class, () -> gn.forward(x));
            assertTrue(e.getMessage().startsWith("allocate of [2, 4, 512] on small GPU (emulated): "),
                    e.getMessage());
            assertEquals(live, small.liveTensors(), "the failed forward freed its outputs");
            try (Tensor y = gn.forward(x.view(0, Shape.of(1, 4, 512)))) {
                assertEquals(Shape.of(1, 4, 512), y.shape());
            }
        }
    }

    /**
     * A kernel's fault surfaces, as on a GPU, at a later call, which the message says may not be
     * its cause; the backend is then poisoned and every later call fails fast.
     */
    @Test
    void aStickyErrorSurfacesLaterPoisonsTheBackendAndEveryLaterCallFailsFast() {
        EmulatedDevice device = new EmulatedDevice(Geometry.SMALL);
        try (CudaBackend poisoned = new CudaBackend(device, false);
             GroupNorm gn = GroupNorm.builder(1, 2).build(poisoned);
             Tensor x = TestData.randn(poisoned, 1, DType.FLOAT32, 2, 2, 3)) {
            device.failNextLaunch("CUDA_ERROR_ILLEGAL_ADDRESS");
            CudaException e;
            try (Tensor y = gn.forward(x)) {
                e = assertThrows(CudaException.class, y::toFloatArray);
            }
            assertEquals("download of [2, 2, 3] on small GPU (emulated): a kernel failed with CUDA_ERROR_ILLEGAL_ADDRESS"
                    + " (kernels run asynchronously, so an earlier launch may have caused it; set "
                    + "-Djnorm.cuda.sync=true, or --sync on the command line, to find which)", e.getMessage());
            assertTrue(e.sticky());
            IllegalStateException later = assertThrows(IllegalStateException.class, x::toFloatArray);
            assertTrue(later.getMessage().startsWith("the cuda backend is unusable after an earlier error: download"),
                    later.getMessage());
        }
    }

    @Test
    void inSyncModeTheFaultNamesItsKernelAndOperation() {
        EmulatedDevice device = new EmulatedDevice(Geometry.SMALL);
        try (CudaBackend synced = new CudaBackend(device, true);
             GroupNorm gn = GroupNorm.builder(1, 2).build(synced);
             Tensor x = TestData.randn(synced, 1, DType.FLOAT32, 2, 2, 3)) {
            device.failNextLaunch("CUDA_ERROR_ILLEGAL_ADDRESS");
            CudaException e = assertThrows(CudaException.class, () -> gn.forward(x));
            assertEquals("rows forward of [2, 2, 3] on small GPU (emulated): kernel rows_forward_team: a kernel failed "
                    + "with CUDA_ERROR_ILLEGAL_ADDRESS", e.getMessage());
            assertTrue(e.sticky());
        }
    }

    @Test
    void aTensorNeverClosedIsFoundByTheGarbageCollectorFreedAndCounted() throws InterruptedException {
        try (CudaBackend leaky = new CudaBackend(new EmulatedDevice(Geometry.SMALL))) {
            allocateAndDrop(leaky);
            assertEquals(1, leaky.liveTensors());
            for (int i = 0; i < 100 && leaky.leakedTensors() == 0; i++) {
                System.gc();
                Thread.sleep(50);
            }
            assertEquals(1, leaky.leakedTensors(), "the cleaner reported the leak");
            assertEquals(0, leaky.liveTensors(), "and freed its memory");
        }
    }

    private static void allocateAndDrop(CudaBackend backend) {
        backend.allocate(Shape.of(1000), DType.FLOAT32); // never closed, on purpose
    }
}
