package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's contract on a real GPU (CUDA device 0), in debug mode (outputs pre-filled
 * with NaN); skipped, with the reason printed, where no device is usable. Adds what only a large
 * device can run: tensors of more than 2^31 elements (tag {@code large}, left out under
 * compute-sanitizer), checked where 32-bit indexing would break.
 */
@Tag("gpu")
class GpuCudaTest extends CudaBackendContract {
    private static final long BIG = (1L << 31) + 16;
    @Override
    protected CudaBackend open() {
        return CudaBackend.open();
    }

    /** x_i = (i mod 5) − 2, written in chunks (a host array holds fewer than 2^31 values). */
    private Tensor pattern(Shape shape) {
        Tensor x = cuda().empty(shape, DType.FLOAT32);
        int chunk = 1 << 26;
        for (long start = 0; start < shape.numel(); start += chunk) {
            int n = (int) Math.min(chunk, shape.numel() - start);
            float[] values = new float[n];
            for (int j = 0; j < n; j++) {
                values[j] = (float) ((start + j) % 5 - 2);
            }
            x.view(start, Shape.of(n)).copyFrom(values);
        }
        return x;
    }

    /** The output must be (x − mean)/sqrt(var + eps) at the start, across index 2^31, and at the end. */
    private void checkWindows(Tensor y, long groups, java.util.function.LongUnaryOperator groupOf) {
        double[] sum = new double[(int) groups];
        double[] sumSquares = new double[(int) groups];
        long[] count = new long[(int) groups];
        for (long i = 0; i < BIG; i++) {
            int g = (int) groupOf.applyAsLong(i);
            double v = i % 5 - 2;
            sum[g] += v;
            sumSquares[g] += v * v;
            count[g]++;
        }
        for (long start : new long[] {0, (1L << 31) - 64, BIG - 64}) {
            double[] expected = new double[64];
            for (int j = 0; j < 64; j++) {
                long i = start + j;
                int g = (int) groupOf.applyAsLong(i);
                double mean = sum[g] / count[g];
                double var = sumSquares[g] / count[g] - mean * mean;
                expected[j] = ((i % 5 - 2) - mean) / Math.sqrt(var + 1e-5);
            }
            Close.assertClose(expected, y.view(start, Shape.of(64)).toDoubleArray(), 1e-5, 1e-5,
                    "elements from " + start);
        }
    }

    private void assumeMemory() {
        assumeTrue(cuda().info().totalMemory() >= 24L << 30,
                () -> "skipped: 2^31-element tensors need 24 GiB of device memory, " + cuda().info() + " has less");
    }

    @Test
    @Tag("large")
    void aGroupOfMoreThan2Pow31ValuesIsSplitAcrossBlocksWith64BitIndexing() {
        assumeMemory();
        Shape shape = Shape.of(1, 2, BIG / 2);
        try (NormLayer<?> gn = GroupNorm.builder(1, 2).build(cuda());
             Tensor x = pattern(shape);
             Tensor y = gn.forward(x)) {
            assertEquals(shape, y.shape());
            checkWindows(y, 1, i -> 0);
        }
    }

    @Test
    @Tag("large")
    void batchNormOverMoreThan2Pow31ValuesUsesTheColumnPathWith64BitIndexing() {
        assumeMemory();
        Shape shape = Shape.of(BIG / 2, 2);
        try (NormLayer<?> bn = BatchNorm.builder(2).build(cuda());
             Tensor x = pattern(shape);
             Tensor y = bn.forward(x)) {
            checkWindows(y, 2, i -> i % 2);
        }
    }
}
