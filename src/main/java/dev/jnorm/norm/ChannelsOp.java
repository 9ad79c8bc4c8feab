package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.Float32Loops;
import dev.jnorm.backend.cpu.internal.Moments;
import dev.jnorm.backend.cuda.internal.CudaKit.Coefficients;
import dev.jnorm.backend.cuda.internal.CudaKit.Scratch;
import dev.jnorm.backend.cuda.internal.CudaKit.Statistics;
import dev.jnorm.backend.cuda.internal.CudaKit.Sums;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The channels family: BatchNorm, one statistic per channel c of {@code [N, C, S]} over (N, S), and
 * InstanceNorm in evaluation with running statistics. Forward and backward, as the float64 reference
 * and as the CUDA launch plan (stats.cu for the statistics, channels.cu for the rest).
 */
final class ChannelsOp {
    private ChannelsOp() {
    }

    /**
     * {@code y = (x − mean_c)·rstd_c·weight_c + bias_c}. With {@code batchStatistics} the statistics
     * are the batch's, over (N, S), and {@code running} (when not null) is updated with them;
     * otherwise they are {@code running}'s. The statistics used are saved ({@code [C]}).
     */
    record Forward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor weight, Tensor bias,
                   Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running, double factor) implements SixteenBitOp {
        @Override
        public String name() {
            return "channels forward";
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
            int channels = (int) layout.c();
            int spatial = (int) layout.s();
            double[] mean = new double[channels];
            double[] var = new double[channels];
            cpu.channelStatistics(layout, xs, batchStatistics, running, mean, var);
            double[] rstd = Moments.rstd(var, eps);
            double[] ys = new double[xs.length];
            CpuKit.forEach((int) (layout.n() * channels), xs.length, row -> {
                int c = row % channels;
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    ys[i] = CpuKit.affine((xs[i] - mean[c]) * rstd[c], w, b, c);
                }
            });
            cpu.write(y, ys);
            cpu.write(saveMean, mean);
            cpu.write(saveRstd, rstd);
            if (batchStatistics && running != null) {
                cpu.updateRunning(running, factor, mean, var, layout.n() * layout.s());
            }
        }

        @Override
        public boolean float32(CpuKit cpu) {
            if (!Float32Loops.float32(x, y) || x.numel() == 0) {
                return false;
            }
            double[] mean = new double[(int) layout.c()];
            double[] var = new double[(int) layout.c()];
            if (batchStatistics) {
                Float32Loops.channelStatistics(layout, Float32Loops.f32(cpu, x), mean, var);
            } else {
                cpu.channelStatistics(layout, null, false, running, mean, var);
            }
            double[] rstd = Moments.rstd(var, eps);
            Float32Loops.channelsNormalize(layout, Float32Loops.f32(cpu, x), Float32Loops.f32(cpu, weight),
                    Float32Loops.f32(cpu, bias), mean, rstd, Float32Loops.f32(cpu, y));
            cpu.write(saveMean, mean);
            cpu.write(saveRstd, rstd);
            if (batchStatistics && running != null) {
                cpu.updateRunning(running, factor, mean, var, layout.n() * layout.s());
            }
            return true;
        }

        /**
         * The batch statistics, per-channel coefficients, then one elementwise pass; in evaluation the
         * coefficients kernel takes the running statistics itself (two launches).
         */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                DevicePointer a = s.floats(layout.c());
                DevicePointer d = s.floats(layout.c());
                if (batchStatistics) {
                    gpu.channelStatistics(s, x, layout, new Statistics(eps, false, gpu.pointer(saveMean),
                            null, gpu.pointer(saveRstd), running, factor));
                }
                Kernels.channelCoefficients().mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                        .runningMean(batchStatistics ? null : gpu.pointer(running.mean()))
                        .runningVar(batchStatistics ? null : gpu.pointer(running.var())).eps((float) eps)
                        .w(gpu.pointer(weight)).b(gpu.pointer(bias)).C(layout.c()).A(a).D(d)
                        .launch(gpu.launcher(), gpu.grid(layout.c()));
                gpu.apply(x, y, layout, new Coefficients(a, null, d, gpu.pointer(saveMean), 1, false));
            }
        }
    }

    /**
     * Per-channel mean and rstd into {@code mean}, {@code rstd}: the batch's (updating the running
     * statistics when given), or the running statistics'.
     */
    static void batchOrRunningStatistics(CudaKit gpu, Scratch s, NcsLayout l, double eps, boolean batchStatistics,
                                         Tensor x, DevicePointer mean, DevicePointer rstd, RunningStats running,
                                         double factor) {
        if (batchStatistics) {
            gpu.channelStatistics(s, x, l, new Statistics(eps, false, mean, null, rstd, running, factor));
        } else {
            Kernels.channelCoefficients().mean(mean).rstd(rstd).runningMean(gpu.pointer(running.mean()))
                    .runningVar(gpu.pointer(running.var())).eps((float) eps).w(null).b(null).C(l.c()).A(null).D(null)
                    .launch(gpu.launcher(), gpu.grid(l.c()));
        }
    }

    /**
     * Batch Renormalization's per-channel {@code r} and {@code d} ({@code [C]}), constants of its
     * backward: its output is {@code w·(r·x̂ + d) + b}.
     */
    record Renorm(Tensor r, Tensor d) {
    }

    /**
     * The gradient of {@link Forward}. With batch statistics
     * {@code dx = rstd·(g − mean(g) − x̂·mean(g·x̂))} over each channel ({@code g = dy·weight}); with
     * running statistics, which are constants, {@code dx = rstd·g}. With {@code renorm} (Batch
     * Renormalization's; null for BatchNorm) {@code g = dy·weight·r} and the weight's gradient is
     * {@code Σ dy·(r·x̂ + d)}.
     */
    record Backward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd,
                    Tensor weight, Renorm renorm, Tensor dx, Tensor gradWeight, Tensor gradBias) implements SixteenBitOp {
        Backward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd,
                 Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias) {
            this(layout, batchStatistics, x, dy, saveMean, saveRstd, weight, null, dx, gradWeight, gradBias);
        }

        @Override
        public String name() {
            return "channels backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] dys = cpu.read(dy);
            double[] mean = cpu.read(saveMean);
            double[] rstd = cpu.read(saveRstd);
            double[] w = cpu.read(weight);
            double[] r = renorm == null ? null : cpu.read(renorm.r());
            double[] d = renorm == null ? null : cpu.read(renorm.d());
            CpuKit.ChannelSums sums = CpuKit.channelSums(layout, xs, dys, mean, rstd);
            double count = layout.n() * layout.s();
            double[] dxs = new double[xs.length];
            CpuKit.forEachElementByChannel(layout, xs.length, (i, c) -> {
                double scale = CpuKit.param(w, c) * (r == null ? 1 : r[c]);
                if (batchStatistics) {
                    double xhat = (xs[i] - mean[c]) * rstd[c];
                    dxs[i] = rstd[c] * scale * (dys[i] - (sums.dy()[c] + xhat * sums.dyXhat()[c]) / count);
                } else {
                    dxs[i] = rstd[c] * scale * dys[i];
                }
            });
            cpu.write(dx, dxs);
            double[] gradW = sums.dyXhat();
            if (renorm != null) {
                for (int c = 0; c < gradW.length; c++) {
                    gradW[c] = r[c] * gradW[c] + d[c] * sums.dy()[c];
                }
            }
            cpu.accumulate(gradWeight, gradW);
            cpu.accumulate(gradBias, sums.dy());
        }

        @Override
        public boolean float32(CpuKit cpu) {
            if (!Float32Loops.float32(x, dy, dx) || renorm != null || x.numel() == 0) {
                return false;
            }
            double[] sumDy = new double[(int) layout.c()];
            double[] sumDyXhat = new double[(int) layout.c()];
            Float32Loops.channelsBackward(layout, batchStatistics, Float32Loops.f32(cpu, x), Float32Loops.f32(cpu, dy),
                    cpu.read(saveMean), cpu.read(saveRstd), Float32Loops.f32(cpu, weight), Float32Loops.f32(cpu, dx),
                    sumDy, sumDyXhat);
            cpu.accumulate(gradWeight, sumDyXhat);
            cpu.accumulate(gradBias, sumDy);
            return true;
        }

        /** Per-channel sums (stats.cu), coefficients, then one elementwise pass. */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                if (!batchStatistics && gradWeight == null && gradBias == null) {
                    // constant statistics and no parameter gradients (FrozenBatchNorm): dx = rstd·w·dy,
                    // one pass over dy, no sums
                    DevicePointer a = s.floats(layout.c());
                    Kernels.channelCoefficients().mean(gpu.pointer(saveMean)).rstd(gpu.pointer(saveRstd))
                            .runningMean(null).runningVar(null).eps(0f).w(gpu.pointer(weight)).b(null).C(layout.c())
                            .A(a).D(s.floats(layout.c())).launch(gpu.launcher(), gpu.grid(layout.c()));
                    gpu.apply(dy, dx, layout, new Coefficients(a, null, null, null, 1, false));
                    return;
                }
                Sums sums = new Sums(s.floats(layout.c()), s.floats(layout.c()));
                gpu.channelSums(s, x, dy, gpu.pointer(saveMean), layout, sums);
                DevicePointer a = s.floats(layout.c());
                DevicePointer b = s.floats(layout.c());
                DevicePointer d = s.floats(layout.c());
                Kernels.channelBackwardCoefficients().sumDy(sums.dy()).sumDyX(sums.dyX()).rstd(gpu.pointer(saveRstd))
                        .w(gpu.pointer(weight)).renormR(renorm == null ? null : gpu.pointer(renorm.r()))
                        .renormD(renorm == null ? null : gpu.pointer(renorm.d())).C(layout.c()).count(layout.n() * layout.s())
                        .batch(batchStatistics ? 1 : 0).A(a).B(b).D(d).gradW(gpu.pointer(gradWeight))
                        .gradB(gpu.pointer(gradBias)).launch(gpu.launcher(), gpu.grid(layout.c()));
                gpu.applyBackward(dy, x, dx, layout, new Coefficients(a, b, d, gpu.pointer(saveMean), 1, false));
            }
        }
    }
}
