package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.GradCheck;
import dev.jnorm.testing.TestData;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Finite-difference checks of every norm's backward, for the input and every learnable parameter. */
class GradientCheckTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;

    static Stream<Arguments> layers() {
        return Stream.of(
                layer("BatchNorm1d train", Shape.of(3, 5, 7), true, b -> BatchNorm.builder(5).dtype(F64).build(b)),
                layer("BatchNorm2d train", Shape.of(2, 3, 3, 5), true, b -> BatchNorm.builder(3).dtype(F64).build(b)),
                layer("BatchNorm on [N, C] train", Shape.of(7, 3), true, b -> BatchNorm.builder(3).dtype(F64).build(b)),
                layer("BatchNorm eval, running stats", Shape.of(3, 5, 7), false,
                        b -> BatchNorm.builder(5).dtype(F64).build(b)),
                layer("BatchNorm eval, untracked", Shape.of(2, 3, 4), false,
                        b -> BatchNorm.builder(3).trackRunningStats(false).dtype(F64).build(b)),
                layer("FrozenBatchNorm", Shape.of(3, 5, 7), true, b -> FrozenBatchNorm.builder(5).dtype(F64).build(b)),
                layer("Ghost BatchNorm, virtual batches of 2 and 1 of 5 examples", Shape.of(5, 3, 4), true,
                        b -> GhostBatchNorm.builder(3, 2).dtype(F64).build(b)),
                layer("Mean-only BatchNorm train", Shape.of(3, 5, 7), true,
                        b -> MeanOnlyBatchNorm.builder(5).dtype(F64).build(b)),
                layer("Mean-only BatchNorm eval", Shape.of(2, 3, 4), false,
                        b -> MeanOnlyBatchNorm.builder(3).dtype(F64).build(b)),
                layer("Mean-only BatchNorm untracked eval, no bias", Shape.of(4, 3), false,
                        b -> MeanOnlyBatchNorm.builder(3).trackRunningStats(false).affine(false).dtype(F64).build(b)),
                layer("InstanceNorm affine train", Shape.of(3, 3, 5), true,
                        b -> InstanceNorm.builder(3).affine(true).dtype(F64).build(b)),
                layer("InstanceNorm tracked eval", Shape.of(2, 3, 5), false,
                        b -> InstanceNorm.builder(3).affine(true).trackRunningStats(true).dtype(F64).build(b)),
                layer("InstanceNorm2d, no affine", Shape.of(2, 3, 2, 3), true,
                        b -> InstanceNorm.builder(3).dtype(F64).build(b)),
                layer("GroupNorm G=3", Shape.of(2, 6, 3, 5), true, b -> GroupNorm.builder(3, 6).dtype(F64).build(b)),
                layer("GroupNorm G=1", Shape.of(3, 3, 5), true, b -> GroupNorm.builder(1, 3).dtype(F64).build(b)),
                layer("GroupNorm G=C", Shape.of(2, 3, 7), true, b -> GroupNorm.builder(3, 3).dtype(F64).build(b)),
                layer("GroupNorm on [N, C]", Shape.of(5, 6), true, b -> GroupNorm.builder(2, 6).dtype(F64).build(b)),
                layer("LayerNorm over 2 dims", Shape.of(3, 5, 7), true, b -> LayerNorm.builder(5, 7).dtype(F64).build(b)),
                layer("LayerNorm over 1 dim", Shape.of(4, 7), true, b -> LayerNorm.builder(7).dtype(F64).build(b)),
                layer("LayerNorm without bias", Shape.of(3, 5), true,
                        b -> LayerNorm.builder(5).bias(false).dtype(F64).build(b)),
                layer("RMSNorm over 1 dim", Shape.of(3, 7), true, b -> RMSNorm.builder(7).dtype(F64).build(b)),
                layer("RMSNorm over 2 dims, eps 1e-6", Shape.of(2, 3, 5), true,
                        b -> RMSNorm.builder(3, 5).eps(1e-6).dtype(F64).build(b)),
                layer("BatchInstanceNorm train", Shape.of(3, 3, 5), true,
                        b -> BatchInstanceNorm.builder(3).dtype(F64).build(b)),
                layer("BatchInstanceNorm eval", Shape.of(2, 3, 5), false,
                        b -> BatchInstanceNorm.builder(3).dtype(F64).build(b)),
                layer("BatchInstanceNorm2d untracked eval", Shape.of(2, 3, 2, 3), false,
                        b -> BatchInstanceNorm.builder(3).trackRunningStats(false).dtype(F64).build(b)),
                layer("SwitchableNorm train", Shape.of(3, 3, 5), true,
                        b -> SwitchableNorm.builder(3).dtype(F64).build(b)),
                layer("SwitchableNorm eval", Shape.of(2, 3, 5), false,
                        b -> SwitchableNorm.builder(3).dtype(F64).build(b)),
                layer("SwitchableNorm on [N, C] train", Shape.of(5, 3), true,
                        b -> SwitchableNorm.builder(3).dtype(F64).build(b)),
                layer("SwitchableNorm untracked eval", Shape.of(2, 3, 4), false,
                        b -> SwitchableNorm.builder(3).trackRunningStats(false).dtype(F64).build(b)));
    }

    private static Arguments layer(String name, Shape shape, boolean training, Function<Backend, NormLayer<?>> make) {
        return Arguments.of(name, shape, training, make);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("layers")
    void backwardMatchesFiniteDifferences(String name, Shape shape, boolean training, Function<Backend, NormLayer<?>> make) {
        try (NormLayer<?> layer = make.apply(CPU);
             Tensor x = TestData.randn(CPU, 11, F64, shape.dims())) {
            randomize(layer);
            layer.setTraining(training);
            GradCheck.check(layer, x, 12);
        }
    }

    /** Parameters away from their initial values, so that a mixed-up index or factor shows. */
    static void randomize(NormLayer<?> layer) {
        long seed = 100;
        for (Parameter p : layer.parameters()) {
            if (p.name().equals("rho")) {
                TestData.fillUniform(p.value(), seed++, 0.1, 0.9);
            } else {
                TestData.fillRandn(p.value(), seed++);
            }
        }
        if (layer instanceof RunningStatsNorm<?> r && r.runningMean() != null) {
            TestData.fillRandn(r.runningMean(), seed++);
            TestData.fillUniform(r.runningVar(), seed, 0.5, 1.5);
        }
    }

    static Stream<Arguments> weightNorms() {
        return Stream.of(
                Arguments.of(Shape.of(5, 3, 3), 0),
                Arguments.of(Shape.of(5, 3, 3), 1),
                Arguments.of(Shape.of(5, 3, 3), 2),
                Arguments.of(Shape.of(4, 3), null),
                Arguments.of(Shape.of(7), 0));
    }

    @ParameterizedTest(name = "WeightNorm {0} dim {1}")
    @MethodSource("weightNorms")
    void weightNormBackwardMatchesFiniteDifferences(Shape shape, Integer dim) {
        try (Tensor weight = TestData.randn(CPU, 21, F64, shape.dims());
             WeightNorm layer = (dim == null ? WeightNorm.builder().wholeTensor() : WeightNorm.builder().dim(dim)).build(weight)) {
            TestData.fillRandn(layer.g().value(), 22);
            GradCheck.check(layer, 23);
        }
    }
}
