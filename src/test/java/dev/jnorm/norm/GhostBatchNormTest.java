package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * Ghost BatchNorm is BatchNorm on each virtual batch: with a virtual batch as large as the batch it
 * is BatchNorm (output, gradients, running statistics); with smaller ones, each virtual batch's
 * output is BatchNorm's on that batch alone, the running statistics taking the batches in order.
 */
class GhostBatchNormTest {

    private static void ghostIsBatchNormPerVirtualBatch(Backend backend, DType dtype, double tol) {
        try (GhostBatchNorm whole = GhostBatchNorm.builder(3, 8).dtype(dtype).build(backend);
             GhostBatchNorm ghost = GhostBatchNorm.builder(3, 3).dtype(dtype).build(backend);
             BatchNorm bn = BatchNorm.builder(3).dtype(dtype).build(backend);
             Tensor x = TestData.randn(backend, 1, dtype, 8, 3, 5);
             Tensor dy = TestData.randn(backend, 2, dtype, 8, 3, 5)) {
            try (Tensor yw = whole.forward(x); Tensor dxw = whole.backward(dy);
                 Tensor yb = bn.forward(x); Tensor dxb = bn.backward(dy)) {
                Close.assertClose(yb.toDoubleArray(), yw.toDoubleArray(), tol, tol, "one virtual batch: output");
                Close.assertClose(dxb.toDoubleArray(), dxw.toDoubleArray(), tol, tol, "grad_input");
                Close.assertClose(bn.weight().grad().toDoubleArray(), whole.weight().grad().toDoubleArray(), tol, tol,
                        "grad_weight");
                Close.assertClose(bn.runningVar().toDoubleArray(), whole.runningVar().toDoubleArray(), tol, tol,
                        "running_var");
            }
            try (Tensor y = ghost.forward(x)) {
                assertEquals(3, ghost.numBatchesTracked(), "one update per virtual batch: 3 + 3 + 2 examples");
                double[] got = y.toDoubleArray();
                for (int k = 0; k < 3; k++) { // each virtual batch alone through a fresh BatchNorm
                    int n = Math.min(3, 8 - 3 * k);
                    try (BatchNorm alone = BatchNorm.builder(3).dtype(dtype).build(backend);
                         Tensor part = x.view(3L * k * 15, dev.jnorm.tensor.Shape.of(n, 3, 5));
                         Tensor want = alone.forward(part)) {
                        double[] w = want.toDoubleArray();
                        double[] g = java.util.Arrays.copyOfRange(got, 3 * k * 15, 3 * k * 15 + w.length);
                        Close.assertClose(w, g, tol, tol, "virtual batch " + k);
                    }
                }
            }
        }
    }

    @Test
    void onTheCpu() {
        ghostIsBatchNormPerVirtualBatch(new CpuBackend(), DType.FLOAT64, 1e-12);
    }

    @Test
    void onTheEmulatedGpu() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            ghostIsBatchNormPerVirtualBatch(cuda, DType.FLOAT32, 1e-5);
        }
    }
}
