package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.Moments;
import dev.jnorm.backend.cuda.internal.CudaKit.Coefficients;
import dev.jnorm.backend.cuda.internal.CudaKit.Scratch;
import dev.jnorm.backend.cuda.internal.CudaKit.Segments;
import dev.jnorm.backend.cuda.internal.CudaKit.Statistics;
import dev.jnorm.backend.cuda.internal.CudaKit.Sums;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Switchable normalization: per (n, c), {@code mean = Σ_k softmax(meanWeight)_k·mean_k} and
 * {@code var = Σ_k softmax(varWeight)_k·var_k} over k = instance, layer, batch (biased variances),
 * then {@code y = (x − mean)·rstd·weight_c + bias_c}. Forward and backward, as the float64 reference
 * and as the CUDA launch plan (instance statistics from stats.cu, the rest from composite.cu and
 * channels.cu).
 */
final class SwitchableOp {
    private SwitchableOp() {
    }

    /**
     * The batch term from the batch (updating {@code running} when not null) or from {@code running};
     * the instance and layer terms always from the input.
     */
    record Forward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor meanWeight,
                   Tensor varWeight, Tensor weight, Tensor bias, Tensor y, SwitchableStats saved, RunningStats running,
                   double factor) implements SixteenBitOp {
        @Override
        public String name() {
            return "switchable forward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] w = cpu.read(weight);
            double[] b = cpu.read(bias);
            double[] p = CpuKit.softmax(cpu.read(meanWeight));
            double[] q = CpuKit.softmax(cpu.read(varWeight));
            int n = (int) layout.n();
            int channels = (int) layout.c();
            int spatial = (int) layout.s();
            int rows = n * channels;
            double[] inMean = new double[rows];
            double[] inVar = new double[rows];
            CpuKit.forEach(rows, xs.length, row -> {
                inMean[row] = Moments.mean(xs, row * spatial, spatial, 1, 0);
                inVar[row] = Moments.meanSquare(xs, row * spatial, spatial, 1, 0, inMean[row]);
            });
            double[] lnMean = new double[n];
            double[] lnVar = new double[n];
            int example = channels * spatial;
            CpuKit.forEach(n, xs.length, k -> {
                lnMean[k] = Moments.mean(xs, k * example, example, 1, 0);
                lnVar[k] = Moments.meanSquare(xs, k * example, example, 1, 0, lnMean[k]);
            });
            double[] bnMean = new double[channels];
            double[] bnVar = new double[channels];
            cpu.channelStatistics(layout, xs, batchStatistics, running, bnMean, bnVar);
            double[] mean = new double[rows];
            double[] rstd = new double[rows];
            double[] ys = new double[xs.length];
            CpuKit.forEach(rows, xs.length, row -> {
                int k = row / channels;
                int c = row % channels;
                mean[row] = p[0] * inMean[row] + p[1] * lnMean[k] + p[2] * bnMean[c];
                rstd[row] = Moments.rstd(q[0] * inVar[row] + q[1] * lnVar[k] + q[2] * bnVar[c], eps);
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    ys[i] = CpuKit.affine((xs[i] - mean[row]) * rstd[row], w, b, c);
                }
            });
            cpu.write(y, ys);
            cpu.write(saved.mean(), mean);
            cpu.write(saved.rstd(), rstd);
            cpu.write(saved.instanceMean(), inMean);
            cpu.write(saved.instanceVar(), inVar);
            cpu.write(saved.layerMean(), lnMean);
            cpu.write(saved.layerVar(), lnVar);
            cpu.write(saved.batchMean(), bnMean);
            cpu.write(saved.batchVar(), bnVar);
            if (batchStatistics && running != null) {
                cpu.updateRunning(running, factor, bnMean, bnVar, layout.n() * layout.s());
            }
        }

        /** Instance statistics in one pass over x; layer and batch statistics merged from them; the mix; the pass. */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long n = layout.n();
                long c = layout.c();
                long q = n * c;
                gpu.statistics(s, Segments.instances(x, layout),
                        Statistics.of(eps, gpu.pointer(saved.instanceMean()), gpu.pointer(saved.instanceVar()), null));
                Kernels.snMergeStats().inMean(gpu.pointer(saved.instanceMean())).inVar(gpu.pointer(saved.instanceVar()))
                        .groups(n).members(c).groupStride(c).memberStride(1).outMean(gpu.pointer(saved.layerMean()))
                        .outVar(gpu.pointer(saved.layerVar())).launch(gpu.launcher(), gpu.grid(n));
                if (batchStatistics) {
                    Kernels.snMergeStats().inMean(gpu.pointer(saved.instanceMean()))
                            .inVar(gpu.pointer(saved.instanceVar())).groups(c).members(n).groupStride(1)
                            .memberStride(c).outMean(gpu.pointer(saved.batchMean()))
                            .outVar(gpu.pointer(saved.batchVar())).launch(gpu.launcher(), gpu.grid(c));
                    if (running != null) {
                        Kernels.runningUpdate().mean(gpu.pointer(saved.batchMean())).var(gpu.pointer(saved.batchVar()))
                                .C(c).count(n * layout.s()).factor((float) factor)
                                .runningMean(gpu.pointer(running.mean())).runningVar(gpu.pointer(running.var()))
                                .launch(gpu.launcher(), gpu.grid(c));
                    }
                } else {
                    gpu.copy(gpu.pointer(saved.batchMean()), gpu.pointer(running.mean()), 4 * c);
                    gpu.copy(gpu.pointer(saved.batchVar()), gpu.pointer(running.var()), 4 * c);
                }
                DevicePointer a = s.floats(q);
                DevicePointer d = s.floats(q);
                Kernels.snMix().inMean(gpu.pointer(saved.instanceMean())).inVar(gpu.pointer(saved.instanceVar()))
                        .lnMean(gpu.pointer(saved.layerMean())).lnVar(gpu.pointer(saved.layerVar()))
                        .bnMean(gpu.pointer(saved.batchMean())).bnVar(gpu.pointer(saved.batchVar()))
                        .meanLogits(gpu.pointer(meanWeight)).varLogits(gpu.pointer(varWeight)).w(gpu.pointer(weight))
                        .b(gpu.pointer(bias)).eps((float) eps).N(n).C(c).mean(gpu.pointer(saved.mean()))
                        .rstd(gpu.pointer(saved.rstd())).A(a).D(d).launch(gpu.launcher(), gpu.grid(q));
                gpu.apply(x, y, layout, new Coefficients(a, null, d, gpu.pointer(saved.mean()), 1, true));
            }
        }
    }

    /** The gradient of {@link Forward} for the input, both mixing logits, weight and bias. */
    record Backward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, SwitchableStats saved,
                    Tensor meanWeight, Tensor varWeight, Tensor weight, Tensor dx, Tensor gradMeanWeight,
                    Tensor gradVarWeight, Tensor gradWeight, Tensor gradBias) implements SixteenBitOp {
        @Override
        public String name() {
            return "switchable backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] dys = cpu.read(dy);
            double[] w = cpu.read(weight);
            double[] p = CpuKit.softmax(cpu.read(meanWeight));
            double[] q = CpuKit.softmax(cpu.read(varWeight));
            double[] mean = cpu.read(saved.mean());
            double[] rstd = cpu.read(saved.rstd());
            double[][] means = {cpu.read(saved.instanceMean()), cpu.read(saved.layerMean()), cpu.read(saved.batchMean())};
            double[][] vars = {cpu.read(saved.instanceVar()), cpu.read(saved.layerVar()), cpu.read(saved.batchVar())};
            int n = (int) layout.n();
            int channels = (int) layout.c();
            int spatial = (int) layout.s();
            int rows = n * channels;
            // Gradients of the loss with respect to the mixed mean and variance of each (n, c) row.
            double[] dMean = new double[rows];
            double[] dVar = new double[rows];
            CpuKit.forEach(rows, xs.length, row -> {
                double wc = CpuKit.param(w, row % channels);
                double sumG = 0;
                double sumGCentered = 0;
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    double g = dys[i] * wc;
                    sumG += g;
                    sumGCentered += g * (xs[i] - mean[row]);
                }
                dMean[row] = -rstd[row] * sumG;
                dVar[row] = -0.5 * rstd[row] * rstd[row] * rstd[row] * sumGCentered;
            });
            // Pushed back onto the instance, layer and batch statistics they were mixed from.
            double[] dInMean = new double[rows];
            double[] dInVar = new double[rows];
            double[] dLnMean = new double[n];
            double[] dLnVar = new double[n];
            double[] dBnMean = new double[channels];
            double[] dBnVar = new double[channels];
            for (int row = 0; row < rows; row++) {
                int k = row / channels;
                int c = row % channels;
                dInMean[row] = p[0] * dMean[row];
                dInVar[row] = q[0] * dVar[row];
                dLnMean[k] += p[1] * dMean[row];
                dLnVar[k] += q[1] * dVar[row];
                if (batchStatistics) {
                    dBnMean[c] += p[2] * dMean[row];
                    dBnVar[c] += q[2] * dVar[row];
                }
            }
            double inCount = spatial;
            double lnCount = (double) channels * spatial;
            double bnCount = (double) n * spatial;
            double[] dxs = new double[xs.length];
            CpuKit.forEach(rows, xs.length, row -> {
                int k = row / channels;
                int c = row % channels;
                double wc = CpuKit.param(w, c);
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    double v = rstd[row] * dys[i] * wc
                            + (dInMean[row] + 2 * dInVar[row] * (xs[i] - means[0][row])) / inCount
                            + (dLnMean[k] + 2 * dLnVar[k] * (xs[i] - means[1][k])) / lnCount;
                    if (batchStatistics) {
                        v += (dBnMean[c] + 2 * dBnVar[c] * (xs[i] - means[2][c])) / bnCount;
                    }
                    dxs[i] = v;
                }
            });
            cpu.write(dx, dxs);
            // Softmax logits: dp_k = Σ dMean·mean_k, then dlogit_j = p_j·(dp_j − Σ_i p_i·dp_i).
            double[] dp = new double[3];
            double[] dq = new double[3];
            for (int row = 0; row < rows; row++) {
                int[] index = {row, row / channels, row % channels};
                for (int k = 0; k < 3; k++) {
                    dp[k] += dMean[row] * means[k][index[k]];
                    dq[k] += dVar[row] * vars[k][index[k]];
                }
            }
            cpu.accumulate(gradMeanWeight, CpuKit.softmaxBackward(p, dp));
            cpu.accumulate(gradVarWeight, CpuKit.softmaxBackward(q, dq));
            double[] gw = new double[channels];
            double[] gb = new double[channels];
            for (int row = 0; row < rows; row++) {
                int c = row % channels;
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    gw[c] += dys[i] * (xs[i] - mean[row]) * rstd[row];
                    gb[c] += dys[i];
                }
            }
            cpu.accumulate(gradWeight, gw);
            cpu.accumulate(gradBias, gb);
        }

        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long n = layout.n();
                long c = layout.c();
                long q = n * c;
                Sums sums = new Sums(s.floats(q), s.floats(q));
                gpu.sums(s, Segments.instances(x, layout), dy, gpu.pointer(saved.mean()), 1,
                        sums);
                DevicePointer dMean = s.floats(q);
                DevicePointer dVar = s.floats(q);
                Kernels.snBackwardMixed().sumDy(sums.dy()).sumDyX(sums.dyX()).rstd(gpu.pointer(saved.rstd()))
                        .w(gpu.pointer(weight)).N(n).C(c).dMean(dMean).dVar(dVar).launch(gpu.launcher(), gpu.grid(q));
                DevicePointer dLnMean = s.floats(n);
                DevicePointer dLnVar = s.floats(n);
                Kernels.snBackwardShare().dMean(dMean).dVar(dVar).meanLogits(gpu.pointer(meanWeight))
                        .varLogits(gpu.pointer(varWeight)).term(1).groups(n).members(c).groupStride(c).memberStride(1)
                        .outMean(dLnMean).outVar(dLnVar).launch(gpu.launcher(), gpu.grid(n));
                DevicePointer dBnMean = null;
                DevicePointer dBnVar = null;
                if (batchStatistics) {
                    dBnMean = s.floats(c);
                    dBnVar = s.floats(c);
                    Kernels.snBackwardShare().dMean(dMean).dVar(dVar).meanLogits(gpu.pointer(meanWeight))
                            .varLogits(gpu.pointer(varWeight)).term(2).groups(c).members(n).groupStride(1)
                            .memberStride(c).outMean(dBnMean).outVar(dBnVar).launch(gpu.launcher(), gpu.grid(c));
                }
                DevicePointer a = s.floats(q);
                DevicePointer b = s.floats(q);
                DevicePointer d = s.floats(q);
                Kernels.snBackwardCoefficients().dMean(dMean).dVar(dVar).dLnMean(dLnMean).dLnVar(dLnVar)
                        .dBnMean(dBnMean).dBnVar(dBnVar).inMean(gpu.pointer(saved.instanceMean()))
                        .lnMean(gpu.pointer(saved.layerMean())).bnMean(gpu.pointer(saved.batchMean()))
                        .rstd(gpu.pointer(saved.rstd())).w(gpu.pointer(weight)).meanLogits(gpu.pointer(meanWeight))
                        .varLogits(gpu.pointer(varWeight)).N(n).C(c).S(layout.s()).batch(batchStatistics ? 1 : 0).A(a)
                        .B(b).D(d).launch(gpu.launcher(), gpu.grid(q));
                gpu.applyBackward(dy, x, dx, layout,
                        new Coefficients(a, b, d, gpu.pointer(saved.instanceMean()), 1, true));
                if (gradWeight != null || gradBias != null) {
                    Kernels.ncParamGrads().sumDy(sums.dy()).sumDyX(sums.dyX()).rstd(gpu.pointer(saved.rstd()))
                            .rstdDivisor(1).N(n).C(c).gradW(gpu.pointer(gradWeight)).gradB(gpu.pointer(gradBias))
                            .launch(gpu.launcher(), gpu.grid(c));
                }
                Kernels.snLogitGrads().dMean(dMean).dVar(dVar).inMean(gpu.pointer(saved.instanceMean()))
                        .inVar(gpu.pointer(saved.instanceVar())).lnMean(gpu.pointer(saved.layerMean()))
                        .lnVar(gpu.pointer(saved.layerVar())).bnMean(gpu.pointer(saved.batchMean()))
                        .bnVar(gpu.pointer(saved.batchVar())).meanLogits(gpu.pointer(meanWeight))
                        .varLogits(gpu.pointer(varWeight)).N(n).C(c).gradMeanLogits(gpu.pointer(gradMeanWeight))
                        .gradVarLogits(gpu.pointer(gradVarWeight)).launch(gpu.launcher(), 1);
            }
        }
    }
}
