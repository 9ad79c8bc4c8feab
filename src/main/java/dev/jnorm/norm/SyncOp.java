package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.Moments;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.CudaKit.Coefficients;
import dev.jnorm.backend.cuda.internal.CudaKit.Scratch;
import dev.jnorm.backend.cuda.internal.CudaKit.Statistics;
import dev.jnorm.backend.cuda.internal.CudaKit.Sums;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * SyncBatchNorm's passes on one rank, between which the ranks gather (see {@link SyncOutput}):
 * <ol>
 *   <li>{@link LocalStatistics}: this rank's count, mean and biased variance per channel, packed
 *       {@code [1 + 2C]};
 *   <li>(all-gather: {@code [ranks, 1 + 2C]});
 *   <li>{@link Normalize}: Chan's merge in rank order, the running update, then BatchNorm's
 *       elementwise pass with the merged statistics;
 *   <li>backward, {@link LocalSums}: this rank's Σ dy and Σ dy·(x − mean) per channel, {@code [2C]};
 *   <li>(all-gather: {@code [ranks, 2C]});
 *   <li>{@link Backward}: the sums added in rank order, BatchNorm's backward over the union's count,
 *       and this rank's own parameter gradients.
 * </ol>
 * The passes over x are BatchNorm's (stats.cu, channels.cu); only the two small rank kernels are new.
 */
final class SyncOp {
    private SyncOp() {
    }

    /** {@code local = [count, mean_0..C−1, var_0..C−1]} of this rank's {@code [n, C, S]} (all 0 when n = 0). */
    record LocalStatistics(NcsLayout layout, double eps, Tensor x, Tensor local) implements SixteenBitOp {
        @Override
        public String name() {
            return "sync batch local statistics";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            int c = (int) layout.c();
            double[] mean = new double[c];
            double[] var = new double[c];
            cpu.channelStatistics(layout, cpu.read(x), true, null, mean, var);
            double[] packed = new double[1 + 2 * c];
            packed[0] = layout.n() * layout.s();
            System.arraycopy(mean, 0, packed, 1, c);
            System.arraycopy(var, 0, packed, 1 + c, c);
            cpu.write(local, packed);
        }

        @Override
        public void launch(CudaKit gpu) {
            DevicePointer packed = gpu.pointer(local);
            gpu.fill(packed, layout.n() * layout.s(), 1);
            try (Scratch s = gpu.scratch()) {
                gpu.channelStatistics(s, x, layout, Statistics.of(eps, packed.plus(4), packed.plus(4 * (1 + layout.c())),
                        null));
            }
        }
    }

    /**
     * Merges the gathered statistics ({@code [ranks, 1 + 2C]}) by Chan's formula in rank order into
     * the union's mean and rstd, saved; updates the running statistics (when given) with the union's
     * unbiased variance over {@code total} values; then, when this rank has values,
     * {@code y = (x − mean)·rstd·w + b}.
     */
    record Normalize(NcsLayout layout, double eps, Tensor gathered, int ranks, long total, Tensor x, Tensor weight,
                     Tensor bias, Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running, double factor)
            implements SixteenBitOp {
        @Override
        public String name() {
            return "sync batch forward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] g = cpu.read(gathered);
            int c = (int) layout.c();
            int width = 1 + 2 * c;
            double[] mean = new double[c];
            double[] var = new double[c];
            for (int ch = 0; ch < c; ch++) {
                double n = 0;
                double m = 0;
                double m2 = 0;
                for (int k = 0; k < ranks; k++) {
                    double nk = g[k * width];
                    if (nk == 0) {
                        continue;
                    }
                    double t = n + nk;
                    double d = g[k * width + 1 + ch] - m;
                    m += d * nk / t;
                    m2 += g[k * width + 1 + c + ch] * nk + d * d * n * nk / t;
                    n = t;
                }
                mean[ch] = m;
                var[ch] = m2 / n;
            }
            double[] rstd = Moments.rstd(var, eps);
            cpu.write(saveMean, mean);
            cpu.write(saveRstd, rstd);
            if (running != null) {
                cpu.updateRunning(running, factor, mean, var, total);
            }
            if (x.numel() == 0) {
                return;
            }
            double[] xs = cpu.read(x);
            double[] w = cpu.read(weight);
            double[] b = cpu.read(bias);
            double[] ys = new double[xs.length];
            CpuKit.forEachElementByChannel(layout, xs.length, (i, ch) ->
                    ys[i] = CpuKit.affine((xs[i] - mean[ch]) * rstd[ch], w, b, ch));
            cpu.write(y, ys);
        }

        /** rank_welford_merge, then (with values here) BatchNorm's coefficients and elementwise pass. */
        @Override
        public void launch(CudaKit gpu) {
            Kernels.rankWelfordMerge().gathered(gpu.pointer(gathered)).ranks(ranks).C(layout.c()).eps((float) eps)
                    .total(total).factor((float) factor).mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                    .runningMean(running == null ? null : gpu.pointer(running.mean()))
                    .runningVar(running == null ? null : gpu.pointer(running.var()))
                    .launch(gpu.launcher(), gpu.grid(layout.c()));
            if (x.numel() == 0) {
                return;
            }
            try (Scratch s = gpu.scratch()) {
                DevicePointer a = s.floats(layout.c());
                DevicePointer d = s.floats(layout.c());
                Kernels.channelCoefficients().mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd)).runningMean(null)
                        .runningVar(null).eps((float) eps).w(gpu.pointer(weight)).b(gpu.pointer(bias)).C(layout.c())
                        .A(a).D(d).launch(gpu.launcher(), gpu.grid(layout.c()));
                gpu.apply(x, y, layout, new Coefficients(a, null, d, gpu.pointer(saveMean), 1, false));
            }
        }
    }

    /** {@code local = [Σ dy per channel, Σ dy·(x − mean) per channel]} over this rank's values. */
    record LocalSums(NcsLayout layout, Tensor x, Tensor dy, Tensor saveMean, Tensor local) implements SixteenBitOp {
        @Override
        public String name() {
            return "sync batch local sums";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            int c = (int) layout.c();
            double[] ones = new double[c];
            java.util.Arrays.fill(ones, 1);
            CpuKit.ChannelSums sums = CpuKit.channelSums(layout, cpu.read(x), cpu.read(dy), cpu.read(saveMean), ones);
            double[] packed = new double[2 * c];
            System.arraycopy(sums.dy(), 0, packed, 0, c);
            System.arraycopy(sums.dyXhat(), 0, packed, c, c);
            cpu.write(local, packed);
        }

        @Override
        public void launch(CudaKit gpu) {
            DevicePointer packed = gpu.pointer(local);
            try (Scratch s = gpu.scratch()) {
                gpu.channelSums(s, x, dy, gpu.pointer(saveMean), layout,
                        new Sums(packed, packed.plus(4 * layout.c())));
            }
        }
    }

    /**
     * With every rank's sums gathered ({@code [ranks, 2C]}) and added in rank order, over the union's
     * {@code total} values: {@code dx = rstd·w·(dy − (Σ dy + x̂·rstd·Σ dy·(x − mean))/total)}; this
     * rank's own sums ({@code local}) give its parameter gradients, {@code Σ dy·x̂} and {@code Σ dy},
     * as data parallelism has every parameter's (adding them across ranks gives BatchNorm's).
     */
    record Backward(NcsLayout layout, Tensor gathered, int ranks, long total, Tensor local, Tensor x, Tensor dy,
                    Tensor saveMean, Tensor saveRstd, Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias)
            implements SixteenBitOp {
        @Override
        public String name() {
            return "sync batch backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            int c = (int) layout.c();
            double[] g = cpu.read(gathered);
            double[] sums = new double[2 * c];
            for (int k = 0; k < ranks; k++) {
                for (int j = 0; j < 2 * c; j++) {
                    sums[j] += g[k * 2 * c + j];
                }
            }
            double[] mean = cpu.read(saveMean);
            double[] rstd = cpu.read(saveRstd);
            double[] w = cpu.read(weight);
            double[] xs = cpu.read(x);
            double[] dys = cpu.read(dy);
            double[] dxs = new double[xs.length];
            CpuKit.forEachElementByChannel(layout, xs.length, (i, ch) -> {
                double xhat = (xs[i] - mean[ch]) * rstd[ch];
                dxs[i] = rstd[ch] * CpuKit.param(w, ch)
                        * (dys[i] - (sums[ch] + xhat * rstd[ch] * sums[c + ch]) / total);
            });
            cpu.write(dx, dxs);
            double[] mine = cpu.read(local);
            double[] gradW = new double[c];
            for (int ch = 0; ch < c; ch++) {
                gradW[ch] = rstd[ch] * mine[c + ch];
            }
            cpu.accumulate(gradWeight, gradW);
            cpu.accumulate(gradBias, java.util.Arrays.copyOf(mine, c));
        }

        /** rank_sums, BatchNorm's backward coefficients over the union, this rank's parameter gradients, one pass. */
        @Override
        public void launch(CudaKit gpu) {
            long c = layout.c();
            try (Scratch s = gpu.scratch()) {
                DevicePointer sums = s.floats(2 * c);
                Kernels.rankSums().gathered(gpu.pointer(gathered)).ranks(ranks).width(2 * c).out(sums)
                        .launch(gpu.launcher(), gpu.grid(2 * c));
                DevicePointer a = s.floats(c);
                DevicePointer b = s.floats(c);
                DevicePointer d = s.floats(c);
                Kernels.channelBackwardCoefficients().sumDy(sums).sumDyX(sums.plus(4 * c)).rstd(gpu.pointer(saveRstd))
                        .w(gpu.pointer(weight)).renormR(null).renormD(null).C(c).count(total).batch(1).A(a).B(b).D(d)
                        .gradW(null).gradB(null).launch(gpu.launcher(), gpu.grid(c));
                DevicePointer mine = gpu.pointer(local);
                Kernels.ncParamGrads().sumDy(mine).sumDyX(mine.plus(4 * c)).rstd(gpu.pointer(saveRstd)).rstdDivisor(1)
                        .N(1).C(c).gradW(gpu.pointer(gradWeight)).gradB(gpu.pointer(gradBias))
                        .launch(gpu.launcher(), gpu.grid(c));
                gpu.applyBackward(dy, x, dx, layout, new Coefficients(a, b, d, gpu.pointer(saveMean), 1, false));
            }
        }
    }
}
