package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;

/**
 * FrozenBatchNorm is a trained BatchNorm's evaluation, fixed: {@link BatchNorm#freeze()} gives the
 * same output and input gradient as the BatchNorm in eval mode, in either mode of its own, learns
 * nothing and updates nothing; on the CPU and on the CUDA backend (the kernel emulator).
 */
class FrozenBatchNormTest {

    /** A BatchNorm trained for two steps, so that its running statistics and affine are not the defaults. */
    private static BatchNorm trained(Backend backend, DType dtype) {
        BatchNorm bn = BatchNorm.builder(3).eps(1e-3).dtype(dtype).build(backend);
        bn.weight().value().copyFrom(new double[] {0.5, 2, -1});
        bn.bias().value().copyFrom(new double[] {0.1, 0, -0.3});
        for (int step = 0; step < 2; step++) {
            try (Tensor x = TestData.randn(backend, 10 + step, dtype, 4, 3, 5); Tensor y = bn.forward(x)) {
                bn.lastForward().closeSaved();
            }
        }
        return bn.eval();
    }

    private static void frozenIsTheEvaluationFixed(Backend backend, DType dtype, double tol) {
        try (BatchNorm bn = trained(backend, dtype);
             FrozenBatchNorm frozen = bn.freeze();
             Tensor x = TestData.randn(backend, 3, dtype, 2, 3, 7);
             Tensor dy = TestData.randn(backend, 4, dtype, 2, 3, 7)) {
            double[] runningMean = frozen.runningMean().toDoubleArray();
            assertEquals(0, frozen.parameters().size(), "nothing learned");
            try (Tensor want = bn.forward(x); Tensor wantDx = bn.backward(dy)) {
                for (boolean training : new boolean[] {true, false}) {
                    frozen.setTraining(training);
                    try (Tensor y = frozen.forward(x); Tensor dx = frozen.backward(dy)) {
                        Close.assertClose(want.toDoubleArray(), y.toDoubleArray(), tol, tol, "output");
                        Close.assertClose(wantDx.toDoubleArray(), dx.toDoubleArray(), tol, tol, "grad_input");
                    }
                }
            }
            assertArrayEquals(runningMean, frozen.runningMean().toDoubleArray(), "nothing updated");
        }
    }

    @Test
    void onTheCpu() {
        frozenIsTheEvaluationFixed(new CpuBackend(), DType.FLOAT64, 1e-12);
    }

    @Test
    void onTheEmulatedGpu() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            frozenIsTheEvaluationFixed(cuda, DType.FLOAT32, 1e-6);
        }
    }

    @Test
    void freezingNeedsRunningStatistics() {
        try (BatchNorm bn = BatchNorm.builder(3).trackRunningStats(false).build(new CpuBackend())) {
            IllegalStateException e = assertThrows(IllegalStateException.class, bn::freeze);
            assertEquals("freeze() needs running statistics, which this BatchNorm does not track "
                    + "(trackRunningStats(false))", e.getMessage());
        }
    }
}
