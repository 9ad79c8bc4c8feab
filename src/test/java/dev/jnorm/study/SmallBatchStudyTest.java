package dev.jnorm.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.nn.Sequential;
import dev.jnorm.nn.Sgd;
import dev.jnorm.nn.SoftmaxCrossEntropy;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class SmallBatchStudyTest {
    private static final Backend CPU = Backend.cpu();

    /** Training lowers the loss: the mean over the last 10 of 80 steps is under 0.8 of the first 10's. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"group", "batch", "switchable", "none"})
    void aShortTrainingRunLowersTheLoss(String norm) {
        ImageSet data = ImageSet.synthetic(640, 1);
        double[] losses = new double[80];
        try (Sequential net = SmallCnn.build(norm, CPU, 7);
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy();
             Sgd sgd = new Sgd(net.parameters(), 0.05, 0.9, 5e-4)) {
            for (int step = 0; step < losses.length; step++) {
                float[] x = Arrays.copyOfRange(data.pixels(), step * 8 * 784, (step + 1) * 8 * 784);
                float[] y = new float[8];
                for (int i = 0; i < 8; i++) {
                    y[i] = data.labels()[step * 8 + i];
                }
                try (Tensor xt = CPU.upload(x, Shape.of(8, 1, 28, 28)); Tensor yt = CPU.upload(y, Shape.of(8));
                     Tensor logits = net.forward(xt)) {
                    losses[step] = loss.forward(logits, yt);
                    try (Tensor g = loss.backward(); Tensor dx = net.backward(g)) {
                        sgd.step();
                    }
                }
                sgd.zeroGrad();
            }
        }
        double first = Arrays.stream(losses, 0, 10).average().orElseThrow();
        double last = Arrays.stream(losses, 70, 80).average().orElseThrow();
        assertTrue(last < 0.8 * first, norm + ": loss went from " + first + " to " + last);
    }

    @Test
    void everyRunStartsFromTheSameWeightsAndTheSameImageOrder() {
        try (Sequential a = SmallCnn.build("batch", CPU, 3); Sequential b = SmallCnn.build("group", CPU, 3)) {
            Tensor wa = a.layers().get(0).parameters().get(0).value();
            Tensor wb = b.layers().get(0).parameters().get(0).value();
            assertEquals(Arrays.toString(wa.toFloatArray()), Arrays.toString(wb.toFloatArray()));
        }
        assertEquals(Arrays.toString(SmallBatchStudy.permutation(50, 9)),
                Arrays.toString(SmallBatchStudy.permutation(50, 9)));
        int[] p = SmallBatchStudy.permutation(50, 9).clone();
        Arrays.sort(p);
        assertEquals(49, p[49], "a permutation");
    }

    @Test
    void reportsOneResultPerNormAndBatchSizeWithTheLearningRateScaled() {
        SmallBatchStudy.Settings s = new SmallBatchStudy.Settings(List.of("group", "layer"), List.of(16, 4), 1, 64, 40, 5,
                0.08, 0.9, 5e-4);
        List<SmallBatchStudy.Result> results = SmallBatchStudy.run(CPU, ImageSet.synthetic(64, 1),
                ImageSet.synthetic(40, 2), s, (run, done, total, loss, speed) -> { });
        assertEquals(4, results.size());
        assertEquals(0.04, results.get(0).learningRate(), 1e-12);
        assertEquals(0.01, results.get(1).learningRate(), 1e-12);
        for (SmallBatchStudy.Result r : results) {
            assertTrue(r.valErrorPercent() >= 0 && r.valErrorPercent() <= 100, r.toString());
            assertEquals(64, r.trainImages());
        }
    }
}
