package dev.jnorm.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.GradCheck;
import dev.jnorm.testing.TestData;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Finite-difference checks, in float64, of the training stack's layers, its loss, and a whole small network. */
class NetworkGradientTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;

    static Stream<Arguments> layers() {
        return Stream.of(
                Arguments.of("Conv2d 3x3 with bias", Shape.of(2, 2, 5, 4),
                        (Function<Init, Layer>) init -> new Conv2d(CPU, F64, 2, 3, 3, true, init)),
                Arguments.of("Conv2d 1x1", Shape.of(1, 3, 3, 3),
                        (Function<Init, Layer>) init -> new Conv2d(CPU, F64, 3, 2, 1, false, init)),
                Arguments.of("Conv2d 5x5", Shape.of(1, 1, 6, 7),
                        (Function<Init, Layer>) init -> new Conv2d(CPU, F64, 1, 2, 5, true, init)),
                Arguments.of("WeightNormConv2d 3x3 with bias (gradients of v, g and the bias)", Shape.of(2, 2, 5, 4),
                        (Function<Init, Layer>) init -> new WeightNormConv2d(CPU, F64, 2, 3, 3, true, init)),
                Arguments.of("Linear", Shape.of(4, 5), (Function<Init, Layer>) init -> new Linear(CPU, F64, 5, 3, init)),
                Arguments.of("MaxPool2d, odd sizes", Shape.of(2, 3, 5, 6),
                        (Function<Init, Layer>) init -> new MaxPool2d(CPU, F64)),
                Arguments.of("GlobalAvgPool", Shape.of(2, 3, 4, 5),
                        (Function<Init, Layer>) init -> new GlobalAvgPool(CPU, F64)),
                Arguments.of("ReLU", Shape.of(3, 7), (Function<Init, Layer>) init -> new Relu(CPU, F64)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void backwardMatchesFiniteDifferences(String name, Shape shape, Function<Init, Layer> make) {
        try (Layer layer = make.apply(new Init(3)); Tensor x = TestData.randn(CPU, 4, F64, shape.dims())) {
            layer.parameters().stream().filter(p -> p.name().equals("bias")).forEach(p -> TestData.fillRandn(p.value(), 5));
            GradCheck.check(layer, x, 6);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void backwardRefusesAGradientNotShapedLikeTheOutput(String name, Shape shape, Function<Init, Layer> make) {
        try (Layer layer = make.apply(new Init(3)); Tensor x = TestData.randn(CPU, 4, F64, shape.dims());
             Tensor y = layer.forward(x)) {
            long[] dims = y.shape().dims();
            dims[dims.length - 1]++;
            try (Tensor wrong = TestData.randn(CPU, 5, F64, dims)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> layer.backward(wrong));
                assertEquals("grad_output should have the output's shape " + y.shape() + ", got " + wrong.shape(),
                        e.getMessage());
            }
        }
    }

    @Test
    void convolutionIsTheDirectSumOverItsZeroPaddedWindow() {
        int n = 2, cin = 3, cout = 2, h = 4, w = 5, k = 3;
        try (Conv2d conv = new Conv2d(CPU, F64, cin, cout, k, true, new Init(11));
             Tensor x = TestData.randn(CPU, 12, F64, n, cin, h, w)) {
            TestData.fillRandn(conv.bias().value(), 13);
            double[] xs = x.toDoubleArray();
            double[] ws = conv.weight().value().toDoubleArray();
            double[] bs = conv.bias().value().toDoubleArray();
            double[] expected = new double[n * cout * h * w];
            for (int b = 0; b < n; b++) {
                for (int o = 0; o < cout; o++) {
                    for (int i = 0; i < h; i++) {
                        for (int j = 0; j < w; j++) {
                            double sum = bs[o];
                            for (int c = 0; c < cin; c++) {
                                for (int ki = 0; ki < k; ki++) {
                                    for (int kj = 0; kj < k; kj++) {
                                        int si = i + ki - 1;
                                        int sj = j + kj - 1;
                                        if (si >= 0 && si < h && sj >= 0 && sj < w) {
                                            sum += ws[((o * cin + c) * k + ki) * k + kj] * xs[((b * cin + c) * h + si) * w + sj];
                                        }
                                    }
                                }
                            }
                            expected[((b * cout + o) * h + i) * w + j] = sum;
                        }
                    }
                }
            }
            try (Tensor y = conv.forward(x)) {
                Close.assertClose(expected, y.toDoubleArray(), 1e-12, 1e-12, "conv output");
            }
        }
    }

    @Test
    void crossEntropyGradientMatchesFiniteDifferences() {
        double[] z = TestData.randn(7, 4 * 5);
        double[] labels = {3, 0, 4, 1};
        try (Tensor logits = TestData.tensor(CPU, F64, z, 4, 5);
             Tensor y = TestData.tensor(CPU, F64, labels, 4);
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy()) {
            loss.forward(logits, y);
            double[] analytic;
            try (Tensor g = loss.backward()) {
                analytic = g.toDoubleArray();
            }
            double[] numeric = new double[z.length];
            for (int i = 0; i < z.length; i++) {
                double[] plus = z.clone();
                double[] minus = z.clone();
                plus[i] += 1e-6;
                minus[i] -= 1e-6;
                numeric[i] = (lossOf(plus, labels) - lossOf(minus, labels)) / 2e-6;
            }
            Close.assertClose(numeric, analytic, 1e-8, 1e-6, "d loss / d logits");
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {5, -1, 1.5, Double.NaN})
    void crossEntropyRefusesALabelThatIsNotAClassAsPyTorchDoes(double label) {
        try (Tensor logits = TestData.randn(CPU, 3, F64, 2, 5);
             Tensor y = TestData.tensor(CPU, F64, new double[] {0, label}, 2);
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy()) {
            String shown = label == Math.rint(label) ? Long.toString((long) label) : Double.toString(label);
            assertEquals("Target " + shown + " is out of bounds.",
                    assertThrows(IllegalArgumentException.class, () -> loss.forward(logits, y)).getMessage());
        }
    }

    private static double lossOf(double[] z, double[] labels) {
        try (Tensor logits = TestData.tensor(CPU, F64, z, 4, 5);
             Tensor y = TestData.tensor(CPU, F64, labels, 4);
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy()) {
            return loss.forward(logits, y);
        }
    }

    @Test
    void crossEntropyIsPyTorchsOnAKnownCase() {
        // torch.nn.functional.cross_entropy(torch.tensor([[1., 2., 3.]]), torch.tensor([0])) = 2.4076059644443806
        try (Tensor logits = TestData.tensor(CPU, F64, new double[] {1, 2, 3}, 1, 3);
             Tensor y = TestData.tensor(CPU, F64, new double[] {0}, 1);
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy()) {
            assertEquals(2.4076059644443806, loss.forward(logits, y), 1e-12);
        }
    }

    @Test
    void aWholeNetworkWithNormsBackpropagatesExactly() {
        Init init = new Init(8);
        try (Sequential net = new Sequential(List.of(
                new Conv2d(CPU, F64, 1, 4, 3, false, init), GroupNorm.builder(2, 4).dtype(F64).build(CPU),
                new Relu(CPU, F64), new MaxPool2d(CPU, F64),
                new Conv2d(CPU, F64, 4, 4, 3, false, init), BatchNorm.builder(4).dtype(F64).build(CPU),
                new Relu(CPU, F64), new GlobalAvgPool(CPU, F64), new Linear(CPU, F64, 4, 3, init)));
             Tensor x = TestData.randn(CPU, 9, F64, 3, 1, 6, 6)) {
            GradCheck.check(net, x, 10);
        }
    }
}
