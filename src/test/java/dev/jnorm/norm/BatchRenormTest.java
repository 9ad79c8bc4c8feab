package dev.jnorm.norm;

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
 * Batch Renormalization's identities: with rmax = 1 and dmax = 0 it is BatchNorm (output, gradients,
 * running statistics); unclipped, its training output is evaluation's with the running statistics
 * from before the batch; its gradient is BatchNorm's with weight w·r and bias w·d + b (r and d
 * constants); and clipping binds at the bounds.
 */
class BatchRenormTest {
    private static final long C = 3;

    private static Tensor randomRunning(Backend backend, DType dtype, BatchRenorm layer, long seed) {
        TestData.fillRandn(layer.runningMean(), seed);
        TestData.fillUniform(layer.runningVar(), seed + 1, 0.2, 3);
        TestData.fillRandn(layer.weight().value(), seed + 2);
        TestData.fillRandn(layer.bias().value(), seed + 3);
        return TestData.randn(backend, seed + 4, dtype, 6, C, 5);
    }

    private static void copyState(Backend backend, BatchRenorm from, RunningStatsNorm<?> to) {
        backend.copy(from.weight().value(), to.weight().value());
        backend.copy(from.bias().value(), to.bias().value());
        backend.copy(from.runningMean(), to.runningMean());
        backend.copy(from.runningVar(), to.runningVar());
    }

    private static void identities(Backend backend, DType dtype, double tol) {
        // rmax = 1, dmax = 0: r = 1, d = 0, BatchNorm
        try (BatchRenorm renorm = BatchRenorm.builder(C, 1, 0).dtype(dtype).build(backend);
             BatchNorm bn = BatchNorm.builder(C).dtype(dtype).build(backend);
             Tensor x = randomRunning(backend, dtype, renorm, 1);
             Tensor dy = TestData.randn(backend, 9, dtype, 6, C, 5)) {
            copyState(backend, renorm, bn);
            try (Tensor y = renorm.forward(x); Tensor dx = renorm.backward(dy);
                 Tensor yb = bn.forward(x); Tensor dxb = bn.backward(dy)) {
                Close.assertClose(yb, y, tol, tol, "rmax 1, dmax 0: output");
                Close.assertClose(dxb, dx, tol, tol, "grad_input");
                Close.assertClose(bn.weight().grad(), renorm.weight().grad(), tol, tol, "grad_weight");
                Close.assertClose(bn.bias().grad(), renorm.bias().grad(), tol, tol, "grad_bias");
                Close.assertClose(bn.runningMean(), renorm.runningMean(), tol, tol, "running_mean");
                Close.assertClose(bn.runningVar(), renorm.runningVar(), tol, tol, "running_var");
            }
        }
        // unclipped: training's output is evaluation's with the running statistics before the batch
        try (BatchRenorm renorm = BatchRenorm.builder(C, 1e6, 1e6).dtype(dtype).build(backend);
             BatchNorm eval = BatchNorm.builder(C).dtype(dtype).build(backend).eval();
             Tensor x = randomRunning(backend, dtype, renorm, 2)) {
            copyState(backend, renorm, eval);
            try (Tensor y = renorm.forward(x); Tensor ye = eval.forward(x)) {
                Close.assertClose(ye, y, tol, tol, "unclipped training output = evaluation's");
            }
        }
        // the gradient: BatchNorm's with weight w·r and bias w·d + b, r and d the saved constants
        try (BatchRenorm renorm = BatchRenorm.builder(C, 1.3, 0.4).dtype(dtype).build(backend);
             BatchNorm bn = BatchNorm.builder(C).dtype(dtype).build(backend);
             Tensor x = randomRunning(backend, dtype, renorm, 3);
             Tensor dy = TestData.randn(backend, 8, dtype, 6, C, 5);
             Tensor y = renorm.forward(x)) {
            double[] w = renorm.weight().value().toDoubleArray();
            double[] b = renorm.bias().value().toDoubleArray();
            double[] r = renorm.lastForward().statistics().r().toDoubleArray();
            double[] d = renorm.lastForward().statistics().d().toDoubleArray();
            double[] wr = new double[(int) C];
            double[] shift = new double[(int) C];
            for (int c = 0; c < C; c++) {
                wr[c] = w[c] * r[c];
                shift[c] = w[c] * d[c] + b[c];
            }
            bn.weight().value().copyFrom(wr);
            bn.bias().value().copyFrom(shift);
            try (Tensor yb = bn.forward(x); Tensor dx = renorm.backward(dy); Tensor dxb = bn.backward(dy)) {
                Close.assertClose(yb, y, tol, tol, "output = BatchNorm's with w·r, w·d + b");
                Close.assertClose(dxb, dx, tol, tol, "grad_input = BatchNorm's with w·r");
                double[] gwb = bn.weight().grad().toDoubleArray(); // Σ dy·x̂
                double[] gb = bn.bias().grad().toDoubleArray(); // Σ dy
                double[] want = new double[(int) C];
                for (int c = 0; c < C; c++) {
                    want[c] = r[c] * gwb[c] + d[c] * gb[c];
                }
                Close.assertClose(want, renorm.weight().grad().toDoubleArray(), tol, tol, "grad_weight = Σ dy·(r·x̂ + d)");
                Close.assertClose(gb, renorm.bias().grad().toDoubleArray(), tol, tol, "grad_bias");
            }
        }
    }

    @Test
    void identitiesOnTheCpu() {
        identities(new CpuBackend(), DType.FLOAT64, 1e-12);
    }

    @Test
    void identitiesOnTheEmulatedGpu() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            identities(cuda, DType.FLOAT32, 2e-5);
        }
    }

    @Test
    void clippingBindsAtTheBounds() {
        Backend cpu = new CpuBackend();
        try (BatchRenorm renorm = BatchRenorm.builder(1, 2, 0.5).dtype(DType.FLOAT64).build(cpu);
             Tensor x = TestData.tensor(cpu, DType.FLOAT64, new double[] {10, 30, 50, 70}, 4, 1)) {
            // batch mean 40, std ≈ 22.4 against running mean 0, var 1: r = 2 (not 22.4), d = 0.5 (not 40)
            try (Tensor y = renorm.forward(x)) {
                assertEquals(2, renorm.lastForward().statistics().r().toDoubleArray()[0]);
                assertEquals(0.5, renorm.lastForward().statistics().d().toDoubleArray()[0]);
            }
            renorm.setClipping(1, 0);
            try (Tensor y = renorm.forward(x)) {
                assertEquals(1, renorm.lastForward().statistics().r().toDoubleArray()[0]);
                assertEquals(0, renorm.lastForward().statistics().d().toDoubleArray()[0]);
            }
        }
    }

    @Test
    void refusesBadBoundsAndNoRunningStatistics() {
        Backend cpu = new CpuBackend();
        assertEquals("rmax must be at least 1, got 0.5", assertThrows(IllegalArgumentException.class,
                () -> BatchRenorm.builder(2, 0.5, 1).build(cpu)).getMessage());
        assertEquals("dmax must be non-negative, got -1.0", assertThrows(IllegalArgumentException.class,
                () -> BatchRenorm.builder(2, 2, -1).build(cpu)).getMessage());
        assertEquals("rmax must be at least 1, got NaN", assertThrows(IllegalArgumentException.class,
                () -> BatchRenorm.builder(2, Double.NaN, 1).build(cpu)).getMessage());
        assertEquals("Batch Renormalization needs running statistics (track_running_stats=True)",
                assertThrows(IllegalArgumentException.class,
                        () -> BatchRenorm.builder(2).trackRunningStats(false).build(cpu)).getMessage());
        try (BatchRenorm renorm = BatchRenorm.builder(2).build(cpu)) {
            assertThrows(IllegalArgumentException.class, () -> renorm.setClipping(3, Double.NaN));
            assertEquals(3, renorm.rmax());
            assertEquals(5, renorm.dmax());
        }
    }
}
