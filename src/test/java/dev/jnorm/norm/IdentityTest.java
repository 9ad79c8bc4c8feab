package dev.jnorm.norm;

import static dev.jnorm.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Identities between norms (DESIGN.md section 8): each pair must agree in output and gradients. */
class IdentityTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;
    private static final double TOL = 1e-12;
    private static final Shape SHAPE = Shape.of(3, 4, 5, 3);

    private static Tensor input(long seed) {
        return TestData.randn(CPU, seed, F64, SHAPE.dims());
    }

    /** Copies weight and bias values from one layer's parameters to another's, matched by name. */
    private static void copyParameters(NormLayer<?> from, NormLayer<?> to) {
        for (var p : to.parameters()) {
            from.parameters().stream().filter(q -> q.name().equals(p.name())).findFirst()
                    .ifPresent(q -> CPU.copy(q.value(), p.value()));
        }
    }

    private static void assertSameForwardAndBackward(NormLayer<?> a, NormLayer<?> b, Tensor x, double tol) {
        try (Tensor dy = TestData.randn(CPU, 99, F64, x.shape().dims());
             Tensor ya = a.forward(x); Tensor yb = b.forward(x);
             Tensor dxa = a.backward(dy); Tensor dxb = b.backward(dy)) {
            assertClose(ya, yb, tol, tol, "output");
            assertClose(dxa, dxb, tol, tol, "grad_input");
            for (var p : b.parameters()) {
                a.parameters().stream().filter(q -> q.name().equals(p.name())).findFirst()
                        .ifPresent(q -> assertClose(q.grad(), p.grad(), tol, tol, "grad_" + p.name()));
            }
        }
    }

    @Test
    void groupNormWithOneGroupPerChannelIsInstanceNorm() {
        try (GroupNorm gn = GroupNorm.builder(4, 4).dtype(F64).build(CPU);
             InstanceNorm in = InstanceNorm.builder(4).affine(true).dtype(F64).build(CPU);
             Tensor x = input(1)) {
            TestData.fillRandn(gn.weight().value(), 2);
            TestData.fillRandn(gn.bias().value(), 3);
            copyParameters(gn, in);
            assertSameForwardAndBackward(gn, in, x, TOL);
        }
    }

    /**
     * GroupNorm with G = 1 is LayerNorm over (C, spatial) without affine, followed by GroupNorm's
     * per-channel affine; by the chain rule its input gradient is LayerNorm's for dy·γ_c.
     */
    @Test
    void groupNormWithOneGroupIsLayerNormOverChannelsAndSpace() {
        long n = SHAPE.dim(0);
        long c = SHAPE.dim(1);
        long s = SHAPE.product(2, SHAPE.rank());
        try (GroupNorm gn = GroupNorm.builder(1, c).dtype(F64).build(CPU);
             LayerNorm ln = LayerNorm.builder(c, SHAPE.dim(2), SHAPE.dim(3)).elementwiseAffine(false).dtype(F64).build(CPU);
             Tensor x = input(4);
             Tensor dy = TestData.randn(CPU, 5, F64, SHAPE.dims())) {
            TestData.fillRandn(gn.weight().value(), 6);
            TestData.fillRandn(gn.bias().value(), 7);
            double[] gamma = gn.weight().value().toDoubleArray();
            double[] beta = gn.bias().value().toDoubleArray();
            double[] dyScaled = dy.toDoubleArray();
            try (Tensor yg = gn.forward(x); Tensor yl = ln.forward(x)) {
                double[] expected = yl.toDoubleArray();
                for (int i = 0; i < expected.length; i++) {
                    int ch = (int) ((i / s) % c);
                    expected[i] = expected[i] * gamma[ch] + beta[ch];
                    dyScaled[i] *= gamma[ch];
                }
                assertClose(expected, yg.toDoubleArray(), TOL, TOL, "output");
            }
            try (Tensor dyl = TestData.tensor(CPU, F64, dyScaled, SHAPE.dims());
                 Tensor dxg = gn.backward(dy); Tensor dxl = ln.backward(dyl)) {
                assertClose(dxl, dxg, TOL, TOL, "grad_input");
            }
            assertEquals(Shape.of(n, 1), gn.lastForward().mean().shape(), "one mean per example");
        }
    }

    @ParameterizedTest(name = "training={0}")
    @ValueSource(booleans = {true, false})
    void batchInstanceNormWithRhoOneIsBatchNorm(boolean training) {
        try (BatchInstanceNorm bin = BatchInstanceNorm.builder(4).dtype(F64).build(CPU);
             BatchNorm bn = BatchNorm.builder(4).dtype(F64).build(CPU);
             Tensor x = input(8)) {
            TestData.fillRandn(bin.weight().value(), 9);
            TestData.fillRandn(bin.bias().value(), 10);
            copyParameters(bin, bn);
            for (RunningStatsNorm<?> layer : new RunningStatsNorm<?>[] {bin, bn}) {
                TestData.fillRandn(layer.runningMean(), 11);
                TestData.fillUniform(layer.runningVar(), 12, 0.5, 2);
                layer.setTraining(training);
            }
            assertSameForwardAndBackward(bin, bn, x, TOL);
            assertClose(bn.runningMean(), bin.runningMean(), 0, 0, "running_mean");
            assertClose(bn.runningVar(), bin.runningVar(), 0, 0, "running_var");
        }
    }

    @Test
    void batchInstanceNormWithRhoZeroIsInstanceNorm() {
        try (BatchInstanceNorm bin = BatchInstanceNorm.builder(4).dtype(F64).build(CPU);
             InstanceNorm in = InstanceNorm.builder(4).affine(true).dtype(F64).build(CPU);
             Tensor x = input(13)) {
            CPU.fill(bin.rho().value(), 0);
            TestData.fillRandn(bin.weight().value(), 14);
            TestData.fillRandn(bin.bias().value(), 15);
            copyParameters(bin, in);
            assertSameForwardAndBackward(bin, in, x, TOL);
        }
    }

    /** Logits of ±50 put a weight of e^-100 on the other two terms: below float64 resolution. */
    private static SwitchableNorm switchableSelecting(int term) {
        SwitchableNorm sn = SwitchableNorm.builder(4).dtype(F64).build(CPU);
        double[] logits = {-50, -50, -50};
        logits[term] = 50;
        sn.meanWeight().value().copyFrom(logits);
        sn.varWeight().value().copyFrom(logits);
        TestData.fillRandn(sn.weight().value(), 16);
        TestData.fillRandn(sn.bias().value(), 17);
        return sn;
    }

    @Test
    void switchableNormSelectingInstanceIsInstanceNorm() {
        try (SwitchableNorm sn = switchableSelecting(0);
             InstanceNorm in = InstanceNorm.builder(4).affine(true).dtype(F64).build(CPU);
             Tensor x = input(18)) {
            copyParameters(sn, in);
            assertSameForwardAndBackward(sn, in, x, 1e-10);
        }
    }

    @Test
    void switchableNormSelectingLayerIsGroupNormWithOneGroup() {
        try (SwitchableNorm sn = switchableSelecting(1);
             GroupNorm ln = GroupNorm.builder(1, 4).dtype(F64).build(CPU);
             Tensor x = input(19)) {
            copyParameters(sn, ln);
            assertSameForwardAndBackward(sn, ln, x, 1e-10);
        }
    }

    @ParameterizedTest(name = "training={0}")
    @ValueSource(booleans = {true, false})
    void switchableNormSelectingBatchIsBatchNorm(boolean training) {
        try (SwitchableNorm sn = switchableSelecting(2);
             BatchNorm bn = BatchNorm.builder(4).dtype(F64).build(CPU);
             Tensor x = input(20)) {
            copyParameters(sn, bn);
            for (RunningStatsNorm<?> layer : new RunningStatsNorm<?>[] {sn, bn}) {
                TestData.fillRandn(layer.runningMean(), 21);
                TestData.fillUniform(layer.runningVar(), 22, 0.5, 2);
                layer.setTraining(training);
            }
            assertSameForwardAndBackward(sn, bn, x, 1e-10);
            assertClose(bn.runningMean(), sn.runningMean(), 1e-15, 0, "running_mean");
            assertClose(bn.runningVar(), sn.runningVar(), 1e-15, 1e-15, "running_var");
        }
    }

    @Test
    void rmsNormOnZeroMeanRowsIsLayerNormWithoutBias() {
        int rows = 6;
        int length = 9;
        double[] x = TestData.randn(23, rows * length);
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < length; i++) {
                mean += x[r * length + i] / length;
            }
            for (int i = 0; i < length; i++) {
                x[r * length + i] -= mean;
            }
        }
        try (RMSNorm rms = RMSNorm.builder(length).eps(1e-5).dtype(F64).build(CPU);
             LayerNorm ln = LayerNorm.builder(length).bias(false).dtype(F64).build(CPU);
             Tensor xt = TestData.tensor(CPU, F64, x, rows, length)) {
            TestData.fillRandn(rms.weight().value(), 24);
            copyParameters(rms, ln);
            try (Tensor yr = rms.forward(xt); Tensor yl = ln.forward(xt)) {
                assertClose(yl, yr, TOL, TOL, "output");
            }
        }
    }
}
