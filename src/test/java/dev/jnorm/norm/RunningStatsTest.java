package dev.jnorm.norm;

import static dev.jnorm.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Test;

/**
 * Running statistics over sequences of batches, checked against sums written out here: per
 * channel, {@code running = (1 − f)·running + f·batch} with the unbiased variance, f the
 * momentum or {@code 1/k} for the k-th batch.
 */
class RunningStatsTest {
    private static final Backend CPU = Backend.cpu();
    private static final DType F64 = DType.FLOAT64;
    private static final double TOL = 1e-13;
    private static final int N = 4;
    private static final int C = 3;
    private static final int S = 5;

    /** Per-channel mean and unbiased variance of an [N, C, S] batch. */
    private static double[][] channelStats(double[] x) {
        double[] mean = new double[C];
        double[] var = new double[C];
        for (int c = 0; c < C; c++) {
            for (int n = 0; n < N; n++) {
                for (int s = 0; s < S; s++) {
                    mean[c] += x[(n * C + c) * S + s] / (N * S);
                }
            }
            for (int n = 0; n < N; n++) {
                for (int s = 0; s < S; s++) {
                    double d = x[(n * C + c) * S + s] - mean[c];
                    var[c] += d * d / (N * S - 1);
                }
            }
        }
        return new double[][] {mean, var};
    }

    /** Per-channel averages over n of the per-(n, c) mean and unbiased variance over S. */
    private static double[][] instanceStats(double[] x) {
        double[] mean = new double[C];
        double[] var = new double[C];
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < C; c++) {
                double m = 0;
                for (int s = 0; s < S; s++) {
                    m += x[(n * C + c) * S + s] / S;
                }
                double v = 0;
                for (int s = 0; s < S; s++) {
                    double d = x[(n * C + c) * S + s] - m;
                    v += d * d / (S - 1);
                }
                mean[c] += m / N;
                var[c] += v / N;
            }
        }
        return new double[][] {mean, var};
    }

    private static void checkSequence(RunningStatsNorm<?> layer, Double momentum, boolean perInstance) {
        double[] rm = new double[C];
        double[] rv = {1, 1, 1};
        for (int k = 1; k <= 4; k++) {
            double[] x = TestData.randn(k, N * C * S);
            for (int i = 0; i < x.length; i++) {
                x[i] = 2 * x[i] + k; // drifting mean and spread
            }
            try (Tensor xt = TestData.tensor(CPU, F64, x, N, C, S); Tensor y = layer.forward(xt)) {
                double f = momentum != null ? momentum : 1.0 / k;
                double[][] batch = perInstance ? instanceStats(x) : channelStats(x);
                for (int c = 0; c < C; c++) {
                    rm[c] = (1 - f) * rm[c] + f * batch[0][c];
                    rv[c] = (1 - f) * rv[c] + f * batch[1][c];
                }
                assertClose(rm, layer.runningMean().toDoubleArray(), TOL, TOL, "running_mean after batch " + k);
                assertClose(rv, layer.runningVar().toDoubleArray(), TOL, TOL, "running_var after batch " + k);
                assertEquals(k, layer.numBatchesTracked());
            }
        }
    }

    @Test
    void batchNormMomentumUpdatesOverASequence() {
        try (BatchNorm bn = BatchNorm.builder(C).dtype(F64).build(CPU)) {
            checkSequence(bn, 0.1, false);
        }
    }

    @Test
    void batchNormNullMomentumKeepsTheCumulativeAverage() {
        try (BatchNorm bn = BatchNorm.builder(C).cumulativeAverage().dtype(F64).build(CPU)) {
            checkSequence(bn, null, false);
        }
    }

    @Test
    void instanceNormTracksPerInstanceStatisticsAveragedOverTheBatch() {
        try (InstanceNorm in = InstanceNorm.builder(C).trackRunningStats(true).dtype(F64).build(CPU)) {
            checkSequence(in, 0.1, true);
        }
    }

    @Test
    void batchInstanceAndSwitchableUpdateRunningStatsAsBatchNorm() {
        try (BatchInstanceNorm bin = BatchInstanceNorm.builder(C).momentum(0.3).dtype(F64).build(CPU);
             SwitchableNorm sn = SwitchableNorm.builder(C).cumulativeAverage().dtype(F64).build(CPU)) {
            checkSequence(bin, 0.3, false);
            checkSequence(sn, null, false);
        }
    }

    @Test
    void evalModeNormalizesWithTheRunningStatisticsAndLeavesThemAlone() {
        double[] rm = {0.5, -1, 2};
        double[] rv = {0.25, 4, 1.5};
        double[] w = {1.5, -0.5, 2};
        double[] b = {0.1, 0.2, -0.3};
        double eps = 1e-3;
        try (BatchNorm bn = BatchNorm.builder(C).eps(eps).dtype(F64).build(CPU);
             InstanceNorm in = InstanceNorm.builder(C).eps(eps).affine(true).trackRunningStats(true).dtype(F64)
                     .build(CPU)) {
            double[] x = TestData.randn(7, N * C * S);
            double[] expected = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                int c = (i / S) % C;
                expected[i] = (x[i] - rm[c]) / Math.sqrt(rv[c] + eps) * w[c] + b[c];
            }
            for (RunningStatsNorm<?> layer : new RunningStatsNorm<?>[] {bn, in}) {
                layer.runningMean().copyFrom(rm);
                layer.runningVar().copyFrom(rv);
                layer.weight().value().copyFrom(w);
                layer.bias().value().copyFrom(b);
                layer.setNumBatchesTracked(7);
                layer.eval();
                try (Tensor xt = TestData.tensor(CPU, F64, x, N, C, S); Tensor y = layer.forward(xt)) {
                    assertClose(expected, y.toDoubleArray(), TOL, TOL, layer.getClass().getSimpleName() + " output");
                }
                assertClose(rm, layer.runningMean().toDoubleArray(), 0, 0, "running_mean unchanged");
                assertClose(rv, layer.runningVar().toDoubleArray(), 0, 0, "running_var unchanged");
                assertEquals(7, layer.numBatchesTracked());
            }
        }
    }

    @Test
    void withoutTrackingThereAreNoBuffersAndEvalUsesTheBatch() {
        try (BatchNorm bn = BatchNorm.builder(C).trackRunningStats(false).dtype(F64).build(CPU);
             Tensor x = TestData.randn(CPU, 8, F64, N, C, S)) {
            assertNull(bn.runningMean());
            assertNull(bn.runningVar());
            assertTrue(bn.momentum().isEmpty());
            assertFalse(bn.cumulativeAverage());
            assertEquals(0, bn.numBatchesTracked());
            double[] train;
            try (Tensor y = bn.forward(x)) {
                train = y.toDoubleArray();
            }
            bn.eval();
            try (Tensor y = bn.forward(x)) {
                assertClose(train, y.toDoubleArray(), 0, 0, "eval output equals train output");
            }
            assertEquals(0, bn.numBatchesTracked());
        }
    }

    @Test
    void instanceNormDefaultsTrackNothing() {
        try (InstanceNorm in = InstanceNorm.builder(C).build(CPU)) {
            assertNull(in.runningMean());
            assertNull(in.weight());
            assertEquals(0, in.parameters().size());
        }
    }
}
