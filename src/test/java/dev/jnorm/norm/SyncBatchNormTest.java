package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SyncBatchNorm on K ranks (threads, {@link InProcessReducer}) is BatchNorm on the concatenated
 * batch: outputs and input gradients (concatenated), parameter gradients (added over the ranks),
 * running statistics (on every rank), over two training steps; with unequal local batches, a rank
 * with no examples, momentum and a cumulative average.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SyncBatchNormTest {
    private static final long C = 3;
    private static final long S = 4;

    /** One rank's results after two training steps (and a third forward in eval). */
    record RankResult(double[] y, double[] dx, double[] y2, double[] gradW, double[] gradB, double[] runningMean,
                      double[] runningVar, long batches) {
    }

    private static double[] concat(List<RankResult> r, java.util.function.Function<RankResult, double[]> part) {
        return r.stream().map(part).flatMapToDouble(Arrays::stream).toArray();
    }

    private static double[] sum(List<RankResult> r, java.util.function.Function<RankResult, double[]> part) {
        double[] s = new double[(int) C];
        r.forEach(x -> {
            for (int i = 0; i < s.length; i++) {
                s[i] += part.apply(x)[i];
            }
        });
        return s;
    }

    private static void syncIsBatchNormOnTheWholeBatch(Backend backend, DType dtype, long[] sizes, boolean cumulative,
                                                       double tol) {
        long n = Arrays.stream(sizes).sum();
        long[] starts = new long[sizes.length];
        for (int k = 1; k < sizes.length; k++) {
            starts[k] = starts[k - 1] + sizes[k - 1];
        }
        try (Tensor x = TestData.randn(backend, 11, dtype, n, C, S);
             Tensor x2 = TestData.randn(backend, 12, dtype, n, C, S);
             Tensor dy = TestData.randn(backend, 13, dtype, n, C, S);
             BatchNorm bn = configure(BatchNorm.builder(C), cumulative).dtype(dtype).build(backend)) {
            TestData.fillRandn(bn.weight().value(), 14);
            TestData.fillRandn(bn.bias().value(), 15);
            double[] weight = bn.weight().value().toDoubleArray();
            double[] bias = bn.bias().value().toDoubleArray();
            List<RankResult> ranks = InProcessReducer.run(sizes.length, (k, end) -> {
                Shape local = Shape.of(sizes[k], C, S);
                long at = starts[k] * C * S;
                try (SyncBatchNorm sync = configure(SyncBatchNorm.builder(C, end), cumulative).dtype(dtype)
                        .build(backend)) {
                    sync.weight().value().copyFrom(weight);
                    sync.bias().value().copyFrom(bias);
                    try (Tensor y = sync.forward(x.view(at, local)); Tensor dx = sync.backward(dy.view(at, local));
                         Tensor y2 = sync.forward(x2.view(at, local)); Tensor dx2 = sync.backward(dy.view(at, local))) {
                        return new RankResult(y.toDoubleArray(), dx.toDoubleArray(), y2.toDoubleArray(),
                                sync.weight().grad().toDoubleArray(), sync.bias().grad().toDoubleArray(),
                                sync.runningMean().toDoubleArray(), sync.runningVar().toDoubleArray(),
                                sync.numBatchesTracked());
                    }
                }
            });
            try (Tensor y = bn.forward(x); Tensor dx = bn.backward(dy); Tensor y2 = bn.forward(x2);
                 Tensor dx2 = bn.backward(dy)) {
                String what = Arrays.toString(sizes) + (cumulative ? ", cumulative" : "") + ": ";
                Close.assertClose(y.toDoubleArray(), concat(ranks, RankResult::y), tol, tol, what + "output");
                Close.assertClose(dx.toDoubleArray(), concat(ranks, RankResult::dx), tol, tol, what + "grad_input");
                Close.assertClose(y2.toDoubleArray(), concat(ranks, RankResult::y2), tol, tol, what + "second output");
                Close.assertClose(bn.weight().grad().toDoubleArray(), sum(ranks, RankResult::gradW), tol, tol,
                        what + "grad_weight, added over the ranks");
                Close.assertClose(bn.bias().grad().toDoubleArray(), sum(ranks, RankResult::gradB), tol, tol,
                        what + "grad_bias, added over the ranks");
                for (RankResult r : ranks) { // every rank's running statistics are BatchNorm's
                    Close.assertClose(bn.runningMean().toDoubleArray(), r.runningMean(), tol, tol, what + "running_mean");
                    Close.assertClose(bn.runningVar().toDoubleArray(), r.runningVar(), tol, tol, what + "running_var");
                    assertEquals(2, r.batches(), what + "batches tracked");
                    assertEquals(Arrays.toString(ranks.get(0).runningVar()), Arrays.toString(r.runningVar()),
                            what + "bitwise the same running statistics on every rank");
                }
            }
        }
    }

    private static <L extends RunningStatsNorm<L>> RunningStatsNorm.Builder<L> configure(RunningStatsNorm.Builder<L> b,
                                                                                      boolean cumulative) {
        return cumulative ? b.cumulativeAverage() : b.momentum(0.3);
    }

    private static final long[][] SPLITS = {{4, 3}, {2, 2, 3}, {3, 0, 2, 2}, {1, 1, 1, 1}, {6}};

    @Test
    void onTheCpuToFloat64Precision() {
        for (long[] sizes : SPLITS) {
            syncIsBatchNormOnTheWholeBatch(new CpuBackend(), DType.FLOAT64, sizes, false, 1e-12);
            syncIsBatchNormOnTheWholeBatch(new CpuBackend(), DType.FLOAT64, sizes, true, 1e-12);
        }
    }

    @Test
    void onTheEmulatedGpu() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            for (long[] sizes : SPLITS) {
                syncIsBatchNormOnTheWholeBatch(cuda, DType.FLOAT32, sizes, sizes.length == 3, 1e-4);
            }
        }
    }

    @Test
    void theUnionsSizeIsCheckedOnEveryRankAlike() {
        Backend cpu = new CpuBackend();
        List<String> messages = InProcessReducer.run(2, (k, end) -> {
            try (SyncBatchNorm sync = SyncBatchNorm.builder(2, end).build(cpu);
                 Tensor x = TestData.randn(cpu, k, DType.FLOAT32, k, 2)) { // ranks of 0 and 1 example: 1 value
                return assertThrows(IllegalArgumentException.class, () -> sync.forward(x)).getMessage();
            }
        });
        assertEquals(List.of("Expected more than 1 value per channel when training, got input size [1, 2]",
                "Expected more than 1 value per channel when training, got input size [1, 2]"), messages);
    }

    @Test
    void aRankThatLeavesFailsTheOthersInsteadOfHangingThem() throws Exception {
        Backend cpu = new CpuBackend();
        List<StatsReducer> group = InProcessReducer.group(3);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (SyncBatchNorm a = SyncBatchNorm.builder(2, group.get(0)).build(cpu);
             SyncBatchNorm b = SyncBatchNorm.builder(2, group.get(1)).build(cpu);
             Tensor x = TestData.randn(cpu, 1, DType.FLOAT32, 4, 2)) {
            Future<?> fa = pool.submit(() -> a.forward(x));
            Future<?> fb = pool.submit(() -> b.forward(x));
            Thread.sleep(200); // both wait for rank 2
            group.get(2).close();
            for (Future<?> f : List.of(fa, fb)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                assertEquals("a rank left the group before all ranks met", e.getCause().getMessage());
            }
            assertEquals(0, a.numBatchesTracked(), "nothing counted");
            assertEquals("[0.0, 0.0]", Arrays.toString(a.runningMean().toDoubleArray()), "running statistics unchanged");
            assertTrue(group.get(0).ranks() == 3 && group.get(1).rank() == 1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void evaluationIsEachRanksOwnBatchNormAndNeedsNoOtherRank() {
        Backend cpu = new CpuBackend();
        List<StatsReducer> group = InProcessReducer.group(2); // rank 1 never calls
        try (SyncBatchNorm sync = SyncBatchNorm.builder(3, group.get(0)).dtype(DType.FLOAT64).build(cpu).eval();
             BatchNorm bn = BatchNorm.builder(3).dtype(DType.FLOAT64).build(cpu).eval();
             Tensor x = TestData.randn(cpu, 3, DType.FLOAT64, 2, 3, 2);
             Tensor y = sync.forward(x); Tensor yb = bn.forward(x)) {
            Close.assertClose(yb, y, 0, 0, "eval");
        }
    }
}
