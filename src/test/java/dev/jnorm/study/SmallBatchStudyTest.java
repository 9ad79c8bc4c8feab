package dev.jnorm.study;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.nn.Sequential;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SmallBatchStudyTest {
    private static final Backend CPU = Backend.cpu();

    /**
     * Training lowers the loss: with the study's own step, the mean over the last 10 of 80 steps is
     * under 0.8 of the first 10's; ρ stays clamped to [0, 1].
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"group", "batch", "batch-instance", "switchable", "weight+mean-only", "none"})
    void aShortTrainingRunLowersTheLoss(String norm) {
        ImageSet data = ImageSet.synthetic(640, 1);
        int[] inOrder = IntStream.range(0, data.size()).toArray();
        double[] losses = new double[80];
        try (DataParallel net = new DataParallel(norm, CPU, DType.FLOAT32, 7, 1, 0.05, 0.9, 5e-4)) {
            for (int step = 0; step < losses.length; step++) {
                losses[step] = net.step(data, inOrder, step * 8, 8);
            }
            net.first().layers().stream().filter(BatchInstanceNorm.class::isInstance)
                    .map(BatchInstanceNorm.class::cast).forEach(bin -> {
                        for (double r : bin.rho().value().toDoubleArray()) {
                            assertTrue(r >= 0 && r <= 1, "rho clamped to [0, 1] after each step, got " + r);
                        }
                    });
        }
        double first = Arrays.stream(losses, 0, 10).average().orElseThrow();
        double last = Arrays.stream(losses, 70, 80).average().orElseThrow();
        assertTrue(last < 0.8 * first, norm + ": loss went from " + first + " to " + last);
    }

    /** The parameters of rank 0's replica after {@code steps} steps of {@code batch} images. */
    private static double[] trainedParameters(String norm, int ranks, int steps, int batch) {
        return trainedParameters(norm, CPU, DType.FLOAT32, ranks, steps, batch);
    }

    /** As {@link #trainedParameters(String, int, int, int)}, on {@code backend} with {@code dtype} activations. */
    private static double[] trainedParameters(String norm, Backend backend, DType dtype, int ranks, int steps,
                                              int batch) {
        ImageSet data = ImageSet.synthetic(steps * batch, 3);
        int[] inOrder = IntStream.range(0, data.size()).toArray();
        try (DataParallel devices = new DataParallel(norm, backend, dtype, 11, ranks, 0.05, 0.9, 5e-4)) {
            for (int step = 0; step < steps; step++) {
                devices.step(data, inOrder, step * batch, batch);
            }
            return devices.first().parameters().stream().flatMapToDouble(p -> Arrays.stream(p.value().toDoubleArray()))
                    .toArray();
        }
    }

    /**
     * Data parallelism with SyncBatchNorm is BatchNorm on the whole batch: the synchronized
     * statistics, and the averaged gradients of the ranks' mean losses, are the whole batch's, so 2
     * and 4 devices train the same weights as one (to float32 rounding). Per-device BatchNorm does not:
     * its statistics are each device's.
     */
    @Test
    void syncBatchNormOnDevicesTrainsAsBatchNormOnOne() {
        double[] one = trainedParameters("batch", 1, 4, 8);
        for (int ranks : new int[] {2, 4}) {
            double[] synced = trainedParameters("sync-batch", ranks, 4, 8);
            double worst = 0;
            for (int i = 0; i < one.length; i++) {
                worst = Math.max(worst, Math.abs(one[i] - synced[i]));
            }
            assertTrue(worst < 1e-4, ranks + " devices: largest difference " + worst);
        }
        double[] perDevice = trainedParameters("batch", 4, 4, 8);
        double worst = 0;
        for (int i = 0; i < one.length; i++) {
            worst = Math.max(worst, Math.abs(one[i] - perDevice[i]));
        }
        assertTrue(worst > 1e-3, "per-device BatchNorm (2 examples a device) trains other weights: " + worst);
    }

    /**
     * Mixed precision trains as float32 does: in four steps, bfloat16 activations on the emulated GPU
     * (float32 parameters and SGD) move the weights from their start as float32 training on the CPU
     * moves them, to within 10 % of the move (measured 3 % with GroupNorm, 5 % with BatchNorm; a
     * wrong gradient is 100 %); float32 on the emulated GPU is float32 on the CPU to 1e-3 of it
     * (measured 1e-6).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"group", "batch"})
    void bfloat16ActivationsOnTheEmulatedGpuTrainAsFloat32(String norm) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        double[] start = trainedParameters(norm, 1, 0, 8);
        double[] float32 = trainedParameters(norm, 1, 4, 8);
        try (CudaBackend gpu = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            double[] bf16 = trainedParameters(norm, gpu, DType.BFLOAT16, 1, 4, 8);
            double[] gpu32 = trainedParameters(norm, gpu, DType.FLOAT32, 1, 4, 8);
            double moved = distance(float32, start);
            assertTrue(distance(gpu32, float32) < 1e-3 * moved, "float32 on the emulated GPU");
            assertTrue(distance(bf16, float32) < 0.1 * moved, "bfloat16 activations: " + distance(bf16, float32)
                    + " from float32's weights, which moved " + moved);
        }
    }

    private static double distance(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return Math.sqrt(sum);
    }

    /** A cell's mean and sample standard deviation (n − 1), and its standard error; one run has sd 0. */
    @Test
    void summariesTakeEachCellsMeanAndSampleStandardDeviation() {
        List<SmallBatchStudy.Result> runs = List.of(result("batch", 8, 10, 1), result("batch", 8, 14, 1001),
                result("batch", 8, 12, 2001), result("group", 8, 20, 1));
        List<SmallBatchStudy.Summary> cells = SmallBatchStudy.summarize(runs);
        assertEquals(2, cells.size());
        assertEquals(12, cells.get(0).meanError(), 1e-12);
        assertEquals(2, cells.get(0).sdError(), 1e-12); // √((4 + 4 + 0)/2)
        assertEquals(2 / Math.sqrt(3), cells.get(0).standardError(), 1e-12);
        assertEquals(3, cells.get(0).runs());
        assertEquals(0, cells.get(1).sdError());
    }

    private static SmallBatchStudy.Result result(String norm, int batch, double error, long seed) {
        return new SmallBatchStudy.Result(norm, batch, 1, 100, 50, 0.05, 1.0, error, 1.0, DType.FLOAT32, seed,
                SmallBatchStudy.Schedule.COSINE);
    }

    /**
     * {@code --depth 3}: three stages of three convolutions, each with its norm and ReLU, pooling
     * between the stages; with SyncBatchNorm on two devices each of the nine norm layers has its own
     * group, so that a step runs.
     */
    @Test
    void aDeepNetworkHasDepthConvolutionsAStageEachWithItsNorm() {
        try (Sequential net = SmallCnn.build("group", CPU, DType.FLOAT32, 3, 1, null)) {
            List<String> kinds = net.layers().stream().map(l -> l.getClass().getSimpleName()).toList();
            assertEquals(9, kinds.stream().filter("Conv2d"::equals).count());
            assertEquals(9, kinds.stream().filter("GroupNorm"::equals).count());
            assertEquals(9, kinds.stream().filter("Relu"::equals).count());
            assertEquals(2, kinds.stream().filter("MaxPool2d"::equals).count());
            assertEquals(List.of("Conv2d", "GroupNorm", "Relu", "Conv2d", "GroupNorm", "Relu", "Conv2d", "GroupNorm",
                    "Relu", "MaxPool2d"), kinds.subList(0, 10));
        }
        ImageSet data = ImageSet.synthetic(8, 2);
        try (DataParallel devices = new DataParallel("sync-batch", CPU, DType.FLOAT32, 2, 3, 2, 0.05, 0.9, 5e-4)) {
            assertTrue(Double.isFinite(devices.step(data, IntStream.range(0, 8).toArray(), 0, 8)));
        }
    }

    @Test
    void everyRunStartsFromTheSameWeightsAndTheSameImageOrder() {
        try (Sequential a = SmallCnn.build("batch", CPU, 3); Sequential b = SmallCnn.build("group", CPU, 3)) {
            Tensor wa = a.layers().get(0).parameters().get(0).value();
            Tensor wb = b.layers().get(0).parameters().get(0).value();
            assertEquals(Arrays.toString(wa.toFloatArray()), Arrays.toString(wb.toFloatArray()));
        }
        int[] p = SmallBatchStudy.permutation(50, 9);
        assertArrayEquals(p, SmallBatchStudy.permutation(50, 9), "the same seed, the same order");
        assertFalse(Arrays.equals(p, SmallBatchStudy.permutation(50, 10)), "another seed, another order");
        assertFalse(Arrays.equals(p, IntStream.range(0, 50).toArray()), "shuffled");
        int[] sorted = p.clone();
        Arrays.sort(sorted);
        assertArrayEquals(IntStream.range(0, 50).toArray(), sorted, "a permutation of 0..49");
    }

    @Test
    void reportsOneResultPerNormAndBatchSizeWithTheLearningRateScaled() {
        SmallBatchStudy.Settings s = new SmallBatchStudy.Settings(List.of("group", "layer"), List.of(16, 4), 1, 64, 40, 5,
                0.08, 0.9, 5e-4);
        List<SmallBatchStudy.Result> results = SmallBatchStudy.run(CPU, ImageSet.synthetic(64, 1),
                ImageSet.synthetic(40, 2), s, (run, done, total, loss, lr, speed) -> { });
        assertEquals(4, results.size());
        assertEquals(0.04, results.get(0).learningRate(), 1e-12);
        assertEquals(0.01, results.get(1).learningRate(), 1e-12);
        for (SmallBatchStudy.Result r : results) {
            assertTrue(r.valErrorPercent() >= 0 && r.valErrorPercent() <= 100, r.toString());
            assertEquals(64, r.trainImages());
        }
    }

    /**
     * Each step takes the base rate (scaled to the batch) times the schedule's factor at that step
     * of the whole run, over epochs: cosine from the full rate down towards 0, constant throughout.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"COSINE", "CONSTANT"})
    void eachStepTakesTheScheduledRate(String schedule) {
        SmallBatchStudy.Schedule sched = SmallBatchStudy.Schedule.valueOf(schedule);
        SmallBatchStudy.Settings s = new SmallBatchStudy.Settings(List.of("group"), List.of(16), 2, 64, 20, 5,
                0.08, 0.9, 5e-4, 1, DType.FLOAT32, 1, 1, sched);
        List<Double> rates = new java.util.ArrayList<>();
        SmallBatchStudy.run(CPU, ImageSet.synthetic(64, 1), ImageSet.synthetic(20, 2), s,
                (run, done, total, loss, lr, speed) -> rates.add(lr));
        assertEquals(8, rates.size(), "2 epochs of 4 steps");
        for (int k = 0; k < 8; k++) {
            double expected = sched == SmallBatchStudy.Schedule.CONSTANT ? 0.04 : 0.02 * (1 + Math.cos(Math.PI * k / 8));
            assertEquals(expected, rates.get(k), 1e-12, "step " + k);
        }
    }
}
