package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A layer applied twice before its backward passes, as a network that reuses it: each backward
 * takes back the most recent forward not yet taken back, so the gradients are those of two separate
 * applications, in reverse order; a backward with no forward left to take back is refused rather
 * than reusing a forward's statistics for another's input.
 */
class LayerReuseTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;

    static Stream<Supplier<NormLayer<?>>> layers() {
        return Stream.of(() -> BatchNorm.builder(3).dtype(F64).build(CPU), () -> GroupNorm.builder(3, 3).dtype(F64).build(CPU),
                () -> SwitchableNorm.builder(3).dtype(F64).build(CPU), () -> LayerNorm.builder(4).dtype(F64).build(CPU));
    }

    /** The input's gradient and then every parameter's, after forward(x) and backward(dy) on a fresh layer. */
    private static double[][] once(Supplier<NormLayer<?>> make, Tensor x, Tensor dy) {
        try (NormLayer<?> layer = make.get()) {
            GradientCheckTest.randomize(layer);
            try (Tensor y = layer.forward(x); Tensor dx = layer.backward(dy)) {
                return gradients(dx, layer.parameters());
            }
        }
    }

    private static double[][] gradients(Tensor dx, List<Parameter> parameters) {
        double[][] out = new double[parameters.size() + 1][];
        out[0] = dx.toDoubleArray();
        for (int i = 0; i < parameters.size(); i++) {
            out[i + 1] = parameters.get(i).grad().toDoubleArray();
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("layers")
    void twoForwardsThenTwoBackwardsGiveEachApplicationsGradients(Supplier<NormLayer<?>> make) {
        try (Tensor x1 = TestData.randn(CPU, 1, F64, 2, 3, 4); Tensor x2 = TestData.randn(CPU, 2, F64, 2, 3, 4);
             Tensor dy1 = TestData.randn(CPU, 3, F64, 2, 3, 4); Tensor dy2 = TestData.randn(CPU, 4, F64, 2, 3, 4);
             NormLayer<?> layer = make.get()) {
            double[][] first = once(make, x1, dy1);
            double[][] second = once(make, x2, dy2);
            GradientCheckTest.randomize(layer);
            layer.forward(x1).close();
            layer.forward(x2).close();
            assertEquals(2, layer.pendingBackward());
            try (Tensor dx2 = layer.backward(dy2); Tensor dx1 = layer.backward(dy1)) {
                assertArrayEquals(second[0], dx2.toDoubleArray(), 1e-12, "the second forward is taken back first");
                assertArrayEquals(first[0], dx1.toDoubleArray(), 1e-12, "then the first, with its own statistics");
            }
            List<Parameter> parameters = layer.parameters();
            for (int i = 0; i < parameters.size(); i++) {
                double[] sum = first[i + 1].clone();
                for (int j = 0; j < sum.length; j++) {
                    sum[j] += second[i + 1][j];
                }
                assertArrayEquals(sum, parameters.get(i).grad().toDoubleArray(), 1e-12,
                        parameters.get(i).name() + " accumulates both applications' gradients");
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.backward(dy1));
            assertEquals("backward() without a forward() to take back: each backward takes back one forward, the most "
                    + "recent first, and every forward has been taken back (or dropped, beyond 256)", e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("layers")
    void aRetainedForwardIsTakenBackAgain(Supplier<NormLayer<?>> make) {
        try (Tensor x = TestData.randn(CPU, 1, F64, 2, 3, 4); Tensor dy = TestData.randn(CPU, 3, F64, 2, 3, 4);
             NormLayer<?> layer = make.get()) {
            layer.forward(x).close();
            try (Tensor a = layer.backward(dy, true); Tensor b = layer.backward(dy)) {
                assertArrayEquals(a.toDoubleArray(), b.toDoubleArray(), 0);
            }
            assertEquals(0, layer.pendingBackward());
        }
    }
}
