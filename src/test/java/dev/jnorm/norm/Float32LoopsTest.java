package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU backend's float32 loops (BatchNorm, GroupNorm, InstanceNorm, LayerNorm, RMSNorm; forward,
 * backward, parameter gradients, running statistics, two training steps then evaluation) against the
 * float64 reference on the same float32 inputs, within DESIGN's float32 tolerances (forward atol and
 * rtol 1e-5, backward atol 1e-4, both scaled by κ = 1 + |μ|/σ for a mean offset of 1000); a shape of
 * 8·6·32·33 values, so that the loops run in parallel and over several chunks of rows, and the 2-D
 * shapes whose loops differ ([N, C] BatchNorm, [N, L] LayerNorm and RMSNorm); and two runs bit for
 * bit the same, the second on views at other offsets into larger tensors (the loops' general
 * indexing, where the first takes their one-index loops).
 */
class Float32LoopsTest {
    private static final Backend CPU = new CpuBackend();
    private static final Shape SHAPE = Shape.of(8, 6, 32, 33);

    /**
     * BatchNorm also on [N, C] (S = 1: its loops along the rows); LayerNorm and RMSNorm on [N, L] too,
     * LayerNorm's with chunks of ~70 rows (per-position gradient sums in float, added into double
     * every 32 rows).
     */
    static Stream<Arguments> cases() {
        return Stream.concat(Stream.of("batch", "group", "instance", "layer", "rms").map(n -> Arguments.of(n, SHAPE)),
                        Stream.of(Arguments.of("batch", Shape.of(3000, 40)), Arguments.of("layer", Shape.of(64, 768)),
                                Arguments.of("rms", Shape.of(50, 1000)), Arguments.of("layer", Shape.of(1100, 24))))
                .flatMap(a -> Stream.of(Arguments.of(a.get()[0], a.get()[1], 0.0),
                        Arguments.of(a.get()[0], a.get()[1], 1000.0)));
    }

    private static NormLayer<?> layer(String norm, Shape shape, DType dtype) {
        NormLayer<?> layer = NormRegistry.named(norm).build(CPU, shape,
                NormConfig.defaults().groups(2).eps(1e-5).affine(true).trackRunningStats(true), dtype);
        TestData.float32Parameters(layer); // the same in both layers
        return layer;
    }

    @ParameterizedTest(name = "{0} {1}, mean offset {2}")
    @MethodSource("cases")
    void matchTheFloat64ReferenceAndRepeatBitForBit(String norm, Shape shape, double offset) {
        List<double[]> first = steps(norm, shape, DType.FLOAT32, offset, false);
        List<double[]> exact = steps(norm, shape, DType.FLOAT64, offset, false);
        double kappa = 1 + offset;
        for (int i = 0; i < first.size(); i++) {
            boolean forward = i % 2 == 0;
            double tol = (forward ? 1e-5 : 1e-4) * kappa;
            Close.assertClose(exact.get(i), first.get(i), tol, forward ? 1e-5 * kappa : 1e-4 * kappa,
                    norm + " output " + i);
        }
        List<double[]> second = steps(norm, shape, DType.FLOAT32, offset, true);
        for (int i = 0; i < first.size(); i++) {
            assertArrayEquals(first.get(i), second.get(i), norm + " run again on views, output " + i);
        }
    }

    /**
     * Two training steps (output, then input and parameter gradients and running statistics), then
     * an evaluation forward: the values in order, alternately forward-like and backward-like; with
     * {@code views}, x and dy are views at offsets 3 and 5 into larger tensors.
     */
    private static List<double[]> steps(String norm, Shape shape, DType dtype, double offset, boolean views) {
        List<double[]> out = new ArrayList<>();
        try (NormLayer<?> layer = layer(norm, shape, dtype)) {
            for (int step = 0; step < 3; step++) {
                if (step == 2) {
                    layer.setTraining(false);
                }
                double[] x = TestData.randn(10 + step, (int) shape.numel());
                double[] dy = TestData.randn(20 + step, (int) shape.numel());
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (x[i] + offset);
                    dy[i] = (float) dy[i];
                }
                try (Tensor xBase = TestData.tensor(CPU, dtype, views ? padded(x, 3) : x, views
                             ? new long[] {x.length + 3} : shape.dims());
                     Tensor dyBase = TestData.tensor(CPU, dtype, views ? padded(dy, 5) : dy, views
                             ? new long[] {dy.length + 5} : shape.dims());
                     Tensor xt = views ? xBase.view(3, shape) : xBase;
                     Tensor dyt = views ? dyBase.view(5, shape) : dyBase;
                     Tensor y = layer.forward(xt);
                     Tensor dx = layer.backward(dyt)) {
                    out.add(y.toDoubleArray());
                    List<Double> grads = new ArrayList<>();
                    for (double v : dx.toDoubleArray()) {
                        grads.add(v);
                    }
                    for (Parameter p : layer.parameters()) {
                        for (double v : p.grad().toDoubleArray()) {
                            grads.add(v);
                        }
                    }
                    out.add(grads.stream().mapToDouble(Double::doubleValue).toArray());
                }
            }
            if (layer instanceof BatchNorm bn) {
                out.add(bn.runningMean().toDoubleArray());
                out.add(bn.runningVar().toDoubleArray());
            }
        }
        return out;
    }

    /** {@code values} after {@code before} NaNs. */
    private static double[] padded(double[] values, int before) {
        double[] out = new double[before + values.length];
        java.util.Arrays.fill(out, 0, before, Double.NaN);
        System.arraycopy(values, 0, out, before, values.length);
        return out;
    }
}
