package dev.jnorm.norm;

import static dev.jnorm.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Numerical behaviour every backend must share: offsets, constants, empty batches, NaN containment. */
class NumericsTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;
    private static final int N = 2;
    private static final int C = 4;
    private static final int S = 9;
    private static final Shape SHAPE = Shape.of(N, C, 3, 3);

    /** Which (n, c) outputs a NaN at input (0, 0, 0) may reach. */
    interface Reach {
        boolean poisoned(int n, int c);
    }

    static Stream<Arguments> norms() {
        return Stream.of(
                norm("BatchNorm", b -> BatchNorm.builder(C).dtype(F64).build(b), (n, c) -> c == 0),
                norm("InstanceNorm", b -> InstanceNorm.builder(C).affine(true).dtype(F64).build(b),
                        (n, c) -> n == 0 && c == 0),
                norm("GroupNorm", b -> GroupNorm.builder(2, C).dtype(F64).build(b), (n, c) -> n == 0 && c < 2),
                norm("LayerNorm", b -> LayerNorm.builder(C, 3, 3).dtype(F64).build(b), (n, c) -> n == 0),
                norm("BatchInstanceNorm", b -> BatchInstanceNorm.builder(C).dtype(F64).build(b), (n, c) -> c == 0),
                norm("SwitchableNorm", b -> SwitchableNorm.builder(C).dtype(F64).build(b), (n, c) -> n == 0 || c == 0));
    }

    private static Arguments norm(String name, Function<Backend, NormLayer<?>> make, Reach reach) {
        return Arguments.of(name, make, reach);
    }

    private static NormLayer<?> build(Function<Backend, NormLayer<?>> make) {
        NormLayer<?> layer = make.apply(CPU);
        GradientCheckTest.randomize(layer);
        return layer;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("norms")
    void anOffsetOf1e4NormalizesLikeTheOriginal(String name, Function<Backend, NormLayer<?>> make, Reach reach) {
        double[] x = TestData.randn(1, (int) SHAPE.numel());
        double[] shifted = x.clone();
        for (int i = 0; i < x.length; i++) {
            shifted[i] += 1e4;
        }
        try (NormLayer<?> layer = build(make);
             Tensor xt = TestData.tensor(CPU, F64, x, SHAPE.dims());
             Tensor st = TestData.tensor(CPU, F64, shifted, SHAPE.dims());
             Tensor dy = TestData.randn(CPU, 2, F64, SHAPE.dims());
             Tensor y = layer.forward(xt); Tensor dx = layer.backward(dy);
             Tensor ys = layer.forward(st); Tensor dxs = layer.backward(dy)) {
            assertClose(y, ys, 1e-9, 0, "output");
            assertClose(dx, dxs, 1e-9, 0, "grad_input");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("norms")
    void aNanPoisonsOnlyWhatSharesItsStatistics(String name, Function<Backend, NormLayer<?>> make, Reach reach) {
        double[] x = TestData.randn(3, (int) SHAPE.numel());
        x[0] = Double.NaN;
        try (NormLayer<?> layer = build(make);
             Tensor xt = TestData.tensor(CPU, F64, x, SHAPE.dims());
             Tensor y = layer.forward(xt)) {
            double[] out = y.toDoubleArray();
            for (int i = 0; i < out.length; i++) {
                int n = i / (C * S);
                int c = (i / S) % C;
                assertEquals(reach.poisoned(n, c), Double.isNaN(out[i]), name + " output at n=" + n + " c=" + c);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("norms")
    void anEmptyBatchGivesAnEmptyOutputAndChangesNothing(String name, Function<Backend, NormLayer<?>> make,
                                                        Reach reach) {
        Shape empty = Shape.of(0, C, 3, 3);
        try (NormLayer<?> layer = build(make);
             Tensor x = CPU.allocate(empty, F64);
             Tensor dy = CPU.allocate(empty, F64)) {
            double[][] before = LayerState.of(layer);
            try (Tensor y = layer.forward(x); Tensor dx = layer.backward(dy)) {
                assertEquals(empty, y.shape());
                assertEquals(empty, dx.shape());
            }
            LayerState.assertUnchanged(before, layer);
        }
    }

    @Test
    void rmsNormAndWeightNormKeepANanInItsRow() {
        double[] x = TestData.randn(4, 4 * 9);
        x[0] = Double.NaN;
        try (RMSNorm rms = RMSNorm.builder(9).dtype(F64).build(CPU);
             Tensor xt = TestData.tensor(CPU, F64, x, 4, 9);
             Tensor y = rms.forward(xt);
             WeightNorm wn = WeightNorm.builder().dim(0).build(xt);
             Tensor w = wn.forward()) {
            for (double[] out : new double[][] {y.toDoubleArray(), w.toDoubleArray()}) {
                for (int i = 0; i < out.length; i++) {
                    assertEquals(i < 9, Double.isNaN(out[i]), "element " + i);
                }
            }
        }
    }

    // ---- a constant group normalizes to exactly its bias ----

    private static double[] withConstant(double[] x, Reach region, double value) {
        for (int i = 0; i < x.length; i++) {
            if (region.poisoned(i / (C * S), (i / S) % C)) {
                x[i] = value;
            }
        }
        return x;
    }

    static Stream<Arguments> constantGroups() {
        return Stream.of(
                norm("BatchNorm channel", b -> BatchNorm.builder(C).dtype(F64).build(b), (n, c) -> c == 1),
                norm("InstanceNorm instance", b -> InstanceNorm.builder(C).affine(true).dtype(F64).build(b),
                        (n, c) -> n == 1 && c == 2),
                norm("GroupNorm group", b -> GroupNorm.builder(2, C).dtype(F64).build(b), (n, c) -> n == 0 && c >= 2),
                norm("BatchInstanceNorm channel", b -> BatchInstanceNorm.builder(C).dtype(F64).build(b),
                        (n, c) -> c == 3),
                norm("SwitchableNorm everything", b -> SwitchableNorm.builder(C).dtype(F64).build(b), (n, c) -> true),
                // float32: the CPU backend's fast loops
                norm("BatchNorm channel, float32", b -> BatchNorm.builder(C).build(b), (n, c) -> c == 1),
                norm("InstanceNorm instance, float32", b -> InstanceNorm.builder(C).affine(true).build(b),
                        (n, c) -> n == 1 && c == 2),
                norm("GroupNorm group, float32", b -> GroupNorm.builder(2, C).build(b), (n, c) -> n == 0 && c >= 2));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("constantGroups")
    void aConstantGroupNormalizesToExactlyBeta(String name, Function<Backend, NormLayer<?>> make, Reach region) {
        double[] x = withConstant(TestData.randn(5, (int) SHAPE.numel()), region, 3.7);
        try (NormLayer<?> layer = build(make);
             Tensor xt = TestData.tensor(CPU, layer.dtype(), x, SHAPE.dims());
             Tensor y = layer.forward(xt)) {
            double[] beta = bias(layer).value().toDoubleArray();
            double[] out = y.toDoubleArray();
            for (int i = 0; i < out.length; i++) {
                int c = (i / S) % C;
                if (region.poisoned(i / (C * S), c)) {
                    assertEquals(beta[c], out[i], 0.0, name + " at " + i);
                }
            }
        }
    }

    @Test
    void aConstantRowNormalizesToExactlyLayerNormsBias() {
        double[] x = TestData.randn(6, 3 * 7);
        for (int i = 7; i < 14; i++) {
            x[i] = -0.3;
        }
        try (LayerNorm ln = LayerNorm.builder(7).dtype(F64).build(CPU);
             Tensor xt = TestData.tensor(CPU, F64, x, 3, 7)) {
            TestData.fillRandn(ln.weight().value(), 7);
            TestData.fillRandn(ln.bias().value(), 8);
            try (Tensor y = ln.forward(xt)) {
                double[] row = java.util.Arrays.copyOfRange(y.toDoubleArray(), 7, 14);
                assertArrayEquals(ln.bias().value().toDoubleArray(), row, 0.0);
            }
        }
    }

    private static Parameter bias(NormLayer<?> layer) {
        return layer.parameters().stream().filter(p -> p.name().equals("bias")).findFirst().orElseThrow();
    }
}
