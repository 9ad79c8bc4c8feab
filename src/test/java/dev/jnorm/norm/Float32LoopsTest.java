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
 * 8·6·32·33 values, so that the loops run in parallel and over several chunks of rows; and two runs
 * bit for bit the same.
 */
class Float32LoopsTest {
    private static final Backend CPU = new CpuBackend();
    private static final Shape SHAPE = Shape.of(8, 6, 32, 33);

    static Stream<Arguments> cases() {
        return Stream.of("batch", "group", "instance", "layer", "rms")
                .flatMap(n -> Stream.of(Arguments.of(n, 0.0), Arguments.of(n, 1000.0)));
    }

    private static NormLayer<?> layer(String norm, DType dtype) {
        NormLayer<?> layer = NormRegistry.named(norm).build(CPU, SHAPE,
                NormConfig.defaults().groups(2).eps(1e-5).affine(true).trackRunningStats(true), dtype);
        long seed = 100;
        for (Parameter p : layer.parameters()) { // float32 values, the same in both layers
            double[] v = TestData.uniform(seed++, (int) p.value().numel(), 0.5, 1.5);
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) v[i];
            }
            p.value().copyFrom(v);
        }
        return layer;
    }

    @ParameterizedTest(name = "{0}, mean offset {1}")
    @MethodSource("cases")
    void matchTheFloat64ReferenceAndRepeatBitForBit(String norm, double offset) {
        List<double[]> first = steps(norm, DType.FLOAT32, offset);
        List<double[]> exact = steps(norm, DType.FLOAT64, offset);
        double kappa = 1 + offset;
        for (int i = 0; i < first.size(); i++) {
            boolean forward = i % 2 == 0;
            double tol = (forward ? 1e-5 : 1e-4) * kappa;
            Close.assertClose(exact.get(i), first.get(i), tol, forward ? 1e-5 * kappa : 1e-4 * kappa,
                    norm + " output " + i);
        }
        List<double[]> second = steps(norm, DType.FLOAT32, offset);
        for (int i = 0; i < first.size(); i++) {
            assertArrayEquals(first.get(i), second.get(i), norm + " run twice, output " + i);
        }
    }

    /**
     * Two training steps (output, then input and parameter gradients and running statistics), then
     * an evaluation forward: the values in order, alternately forward-like and backward-like.
     */
    private static List<double[]> steps(String norm, DType dtype, double offset) {
        List<double[]> out = new ArrayList<>();
        try (NormLayer<?> layer = layer(norm, dtype)) {
            for (int step = 0; step < 3; step++) {
                if (step == 2) {
                    layer.setTraining(false);
                }
                double[] x = TestData.randn(10 + step, (int) SHAPE.numel());
                double[] dy = TestData.randn(20 + step, (int) SHAPE.numel());
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (x[i] + offset);
                    dy[i] = (float) dy[i];
                }
                try (Tensor xt = TestData.tensor(CPU, dtype, x, SHAPE.dims());
                     Tensor dyt = TestData.tensor(CPU, dtype, dy, SHAPE.dims());
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
}
