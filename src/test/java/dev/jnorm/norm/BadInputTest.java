package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every bad-input rule of DESIGN.md section 2: an {@link IllegalArgumentException} with PyTorch's
 * wording where it has one, thrown before any work, so the layer's parameters, gradients, running
 * statistics and batch count are exactly as they were.
 */
class BadInputTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;

    private static Tensor x(long... dims) {
        return TestData.randn(CPU, 1, F64, dims);
    }

    /**
     * Runs {@code call} on a layer that has done one step already and has a forward waiting for its
     * backward, and checks the message and that nothing changed.
     */
    private static void assertRejected(NormLayer<?> layer, Tensor warmUp, Function<NormLayer<?>, Executable> call,
                                       String message) {
        try (layer) {
            GradientCheckTest.randomize(layer);
            if (warmUp != null) {
                try (Tensor y = layer.forward(warmUp); Tensor dy = TestData.randn(CPU, 2, F64, warmUp.shape().dims());
                     Tensor dx = layer.backward(dy)) {
                    assertEquals(warmUp.shape(), dx.shape());
                }
                layer.forward(warmUp).close(); // a forward waiting for its backward, as the call may need
            }
            double[][] before = LayerState.of(layer);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call.apply(layer));
            assertEquals(message, e.getMessage());
            LayerState.assertUnchanged(before, layer);
        }
    }

    private static void assertForwardRejected(NormLayer<?> layer, Tensor x, String message) {
        assertRejected(layer, null, l -> () -> l.forward(x), message);
    }

    @Test
    void batchNormNeedsMoreThanOneValuePerChannelWhenTraining() {
        assertForwardRejected(BatchNorm.builder(4).dtype(F64).build(CPU), x(1, 4),
                "Expected more than 1 value per channel when training, got input size [1, 4]");
        assertForwardRejected(BatchNorm.builder(3).dtype(F64).build(CPU), x(1, 3, 1, 1),
                "Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]");
    }

    @Test
    void batchNormEvaluatesASingleValuePerChannel() {
        try (BatchNorm bn = BatchNorm.builder(4).dtype(F64).build(CPU); Tensor one = x(1, 4)) {
            bn.eval();
            try (Tensor y = bn.forward(one)) {
                assertEquals(Shape.of(1, 4), y.shape());
            }
        }
    }

    @Test
    void batchNormTakesRank2To5() {
        assertForwardRejected(BatchNorm.builder(4).dtype(F64).build(CPU), x(4),
                "expected 2D, 3D, 4D or 5D input (got 1D input)");
        assertForwardRejected(BatchNorm.builder(2).dtype(F64).build(CPU), x(2, 2, 2, 2, 2, 2),
                "expected 2D, 3D, 4D or 5D input (got 6D input)");
    }

    @Test
    void batchNormChannelsMustMatchItsRunningStatsThenItsWeight() {
        assertForwardRejected(BatchNorm.builder(3).dtype(F64).build(CPU), x(2, 4, 5),
                "running_mean should contain 4 elements not 3");
        assertForwardRejected(BatchNorm.builder(3).trackRunningStats(false).dtype(F64).build(CPU), x(2, 4, 5),
                "weight should contain 4 elements not 3");
    }

    @Test
    void instanceNormNeedsMoreThanOneSpatialElementWhenUsingInputStatistics() {
        assertForwardRejected(InstanceNorm.builder(3).dtype(F64).build(CPU), x(2, 3, 1, 1),
                "Expected more than 1 spatial element when training, got input size [2, 3, 1, 1]");
    }

    @Test
    void instanceNormChecksRankThenNumFeatures() {
        assertForwardRejected(InstanceNorm.builder(3).dtype(F64).build(CPU), x(2, 3),
                "expected 3D, 4D or 5D input (got 2D input)");
        assertForwardRejected(InstanceNorm.builder(4).affine(true).dtype(F64).build(CPU), x(2, 3, 5),
                "expected input's size at dim=1 to match num_features (4), but got: 3.");
    }

    @Test
    void groupNormChannelsMustDivideIntoGroups() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GroupNorm.builder(4, 6).build(CPU));
        assertEquals("num_channels must be divisible by num_groups", e.getMessage());
        assertForwardRejected(GroupNorm.builder(3, 6).dtype(F64).build(CPU), x(2, 4, 3),
                "Expected number of channels in input to be divisible by num_groups, but got input of shape [2, 4, 3] "
                        + "and num_groups=3");
        assertForwardRejected(GroupNorm.builder(3, 6).dtype(F64).build(CPU), x(2, 3, 3),
                "Expected weight to be a vector of size equal to the number of channels in input, but got weight of "
                        + "shape [6] and input of shape [2, 3, 3]");
        assertForwardRejected(GroupNorm.builder(3, 6).dtype(F64).build(CPU), x(6),
                "Expected at least 2 dimensions for input tensor but received 1");
    }

    @Test
    void layerNormAndRmsNormInputsMustEndWithTheNormalizedShape() {
        assertForwardRejected(LayerNorm.builder(10).dtype(F64).build(CPU), x(2, 3),
                "Given normalized_shape=[10], expected input with shape [*, 10], but got input of size[2, 3]");
        assertForwardRejected(LayerNorm.builder(3, 10).dtype(F64).build(CPU), x(10),
                "Given normalized_shape=[3, 10], expected input with shape [*, 3, 10], but got input of size[10]");
        assertForwardRejected(RMSNorm.builder(4).dtype(F64).build(CPU), x(4, 3),
                "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[4, 3]");
        assertForwardRejected(LayerNorm.builder().dtype(F64).build(CPU), x(4, 3),
                "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but "
                        + "got normalized_shape = []");
    }

    @Test
    void functionalLayerNormWeightMustHaveTheNormalizedShape() {
        try (Tensor input = x(2, 10); Tensor weight = x(3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Norms.layerNorm(input, Shape.of(10), new Affine(weight, null), 1e-5));
            assertEquals("Expected weight to be of same shape as normalized_shape, but got weight of shape [3] and "
                    + "normalized_shape = [10]", e.getMessage());
        }
    }

    @Test
    void epsMustBeANonNegativeNumber() {
        for (double eps : new double[] {Double.NaN, -1e-5}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BatchNorm.builder(3).eps(eps).build(CPU));
            assertEquals("eps must be a non-negative number, got " + eps, e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> GroupNorm.builder(1, 3).eps(eps).build(CPU));
            assertThrows(IllegalArgumentException.class, () -> LayerNorm.builder(3).eps(eps).build(CPU));
            assertThrows(IllegalArgumentException.class, () -> RMSNorm.builder(3).eps(eps).build(CPU));
            try (Tensor input = x(2, 3, 4)) {
                IllegalArgumentException f = assertThrows(IllegalArgumentException.class,
                        () -> Norms.groupNorm(input, 3, Affine.NONE, eps));
                assertEquals("eps must be a non-negative number, got " + eps, f.getMessage());
            }
        }
    }

    @Test
    void momentumMustBeFinite() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BatchNorm.builder(3).momentum(Double.NaN).build(CPU));
        assertEquals("momentum must be a finite number, got NaN", e.getMessage());
    }

    @Test
    void inputMustHaveTheLayersDtypeAndBeOpen() {
        try (Tensor f32 = TestData.randn(CPU, 1, DType.FLOAT32, 2, 3)) {
            assertForwardRejected(BatchNorm.builder(3).dtype(F64).build(CPU), f32,
                    "expected input of dtype float64 (the layer's), got float32: build the layer with "
                        + ".dtype(DType.FLOAT32), or convert the input to float64");
        }
        Tensor closed = x(2, 3);
        closed.close();
        assertForwardRejected(BatchNorm.builder(3).dtype(F64).build(CPU), closed, "input tensor is closed");
    }

    @Test
    void gradOutputMustHaveTheOutputsShape() {
        try (Tensor input = x(2, 3, 4); Tensor wrong = x(2, 3, 5)) {
            assertRejected(BatchNorm.builder(3).dtype(F64).build(CPU), input, l -> () -> l.backward(wrong),
                    "grad_output should have the output's shape [2, 3, 4], got [2, 3, 5]");
        }
    }

    @Test
    void backwardBeforeForwardIsAnError() {
        try (GroupNorm gn = GroupNorm.builder(1, 3).dtype(F64).build(CPU); Tensor dy = x(2, 3)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> gn.backward(dy));
            assertEquals("no forward() has run on this layer yet", e.getMessage());
        }
    }

    @Test
    void batchInstanceNormNeedsSpatialValuesAndRhoPerChannel() {
        assertForwardRejected(BatchInstanceNorm.builder(3).dtype(F64).build(CPU), x(4, 3, 1),
                "Expected more than 1 spatial element when training, got input size [4, 3, 1]");
        try (Tensor input = x(2, 3, 4); Tensor rho = x(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Norms.batchInstanceNorm(input, rho, Affine.NONE, null, true, 0.1, 1e-5));
            assertEquals("rho should contain 3 elements not 4", e.getMessage());
        }
    }

    @Test
    void switchableNormNeedsThreeMixingLogitsEach() {
        try (Tensor input = x(2, 3, 4); Tensor two = x(2); Tensor three = x(3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Norms.switchableNorm(input, new MixingWeights(two, three), Affine.NONE, null, true, 0.1, 1e-5));
            assertEquals("mean_weight should contain 3 elements not 2", e.getMessage());
        }
        assertForwardRejected(SwitchableNorm.builder(3).dtype(F64).build(CPU), x(1, 3),
                "Expected more than 1 value per channel when training, got input size [1, 3]");
    }

    @Test
    void functionalEvaluationNeedsRunningStatistics() {
        try (Tensor input = x(2, 3, 4); Tensor mean = x(3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Norms.batchNorm(input, Affine.NONE, null, false, 0.1, 1e-5));
            assertEquals("running_mean must be defined in evaluation mode", e.getMessage());
            IllegalArgumentException pair = assertThrows(IllegalArgumentException.class,
                    () -> Norms.batchNorm(input, Affine.NONE, new RunningStats(mean, null), true, 0.1, 1e-5));
            assertEquals("running_mean and running_var must be given together", pair.getMessage());
        }
    }

    @Test
    void weightNormDimMustBeInRange() {
        try (Tensor v = x(3, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> WeightNorm.builder().dim(5).build(v));
            assertEquals("Dimension out of range (expected to be in range of [-2, 1], but got 5)", e.getMessage());
        }
        try (Tensor v = x(3, 4); Tensor g = x(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Norms.weightNorm(v, g, 0));
            assertEquals("g should contain 3 elements not 4", e.getMessage());
        }
    }

    @Test
    void aRejectedTrainingCallDoesNotCountABatch() {
        try (Tensor good = x(4, 3, 5); Tensor bad = x(4, 2, 5)) {
            assertRejected(BatchNorm.builder(3).cumulativeAverage().dtype(F64).build(CPU), good, l -> () -> l.forward(bad),
                    "running_mean should contain 2 elements not 3");
        }
    }
}
