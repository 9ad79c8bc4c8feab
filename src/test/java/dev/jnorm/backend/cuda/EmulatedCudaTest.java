package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.norm.GroupNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's contract on the CPU emulator of its kernels: runs on any machine with g++. In
 * debug mode, so that outputs start as NaN and the emulator's guard after each tensor catches
 * writes past its end. Also the error handling a GPU cannot be made to show on demand: out of
 * memory, and a sticky error.
 */
@Tag("emulator")
class EmulatedCudaTest extends CudaBackendContract {
    @Override
    protected CudaBackend open() {
        String reason = EmulatedDevice.unavailableReason();
        if (reason != null) {
            throw new CudaUnavailableException(reason);
        }
        return new CudaBackend(new EmulatedDevice());
    }

    @Test
    void outOfMemoryIsRecoverableAndFreesWhatTheCallTook() {
        try (CudaBackend small = new CudaBackend(new EmulatedDevice(28 << 10));
             GroupNorm gn = GroupNorm.builder(2, 4).build(small);
             Tensor x = small.upload(new float[4096], Shape.of(2, 4, 512))) {
            long live = small.liveTensors();
            CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class, () -> gn.forward(x));
            assertTrue(e.getMessage().startsWith("allocate of [2, 4, 512] on CPU emulator of the CUDA kernels: "),
                    e.getMessage());
            assertEquals(live, small.liveTensors(), "the failed forward freed its outputs");
            try (Tensor y = gn.forward(x.view(0, Shape.of(1, 4, 512)))) {
                assertEquals(Shape.of(1, 4, 512), y.shape());
            }
        }
    }

    @Test
    void aStickyErrorPoisonsTheBackendAndEveryLaterCallFailsFast() {
        EmulatedDevice device = new EmulatedDevice();
        try (CudaBackend poisoned = new CudaBackend(device);
             GroupNorm gn = GroupNorm.builder(1, 2).build(poisoned);
             Tensor x = TestData.randn(poisoned, 1, DType.FLOAT32, 2, 2, 3)) {
            device.failNextLaunch("CUDA_ERROR_ILLEGAL_ADDRESS");
            CudaException e = assertThrows(CudaException.class, () -> gn.forward(x));
            assertEquals("rows forward of [2, 2, 3] on CPU emulator of the CUDA kernels: rows_forward_warp failed with "
                    + "CUDA_ERROR_ILLEGAL_ADDRESS", e.getMessage());
            assertTrue(e.sticky());
            IllegalStateException later = assertThrows(IllegalStateException.class, x::toFloatArray);
            assertTrue(later.getMessage().startsWith("the cuda backend is unusable after an earlier error: rows forward"),
                    later.getMessage());
        }
    }

    @Test
    void aTensorNeverClosedIsFoundByTheGarbageCollectorFreedAndCounted() throws InterruptedException {
        try (CudaBackend leaky = new CudaBackend(new EmulatedDevice())) {
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
