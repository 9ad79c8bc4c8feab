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
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Mean-only BatchNorm on {@code [N, C, S]}: {@code y = x − μ_c + β_c}, as the float64 reference and
 * as the CUDA launch plan (the channels family: stats.cu's statistics, channels.cu's elementwise
 * pass with A = 1).
 */
final class MeanOnlyOp {
    private MeanOnlyOp() {
    }

    /**
     * μ_c is the batch's mean over (N, S) when {@code batchStatistics} (updating {@code runningMean},
     * if given, by {@code factor}), else {@code runningMean}; it is saved in {@code saveMean}.
     */
    record Forward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor bias, Tensor y, Tensor saveMean,
                   Tensor runningMean, double factor) implements SixteenBitOp {
        @Override
        public String name() {
            return "mean-only forward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            int c = (int) layout.c();
            int spatial = (int) layout.s();
            double[] mean = new double[c];
            if (batchStatistics) {
                for (int k = 0; k < c; k++) {
                    mean[k] = Moments.mean(xs, k * spatial, spatial, (int) layout.n(), c * spatial);
                }
                if (runningMean != null) {
                    cpu.updateRunning(new RunningStats(runningMean, null), factor, mean, null, layout.n() * spatial);
                }
            } else {
                mean = cpu.read(runningMean);
            }
            double[] b = bias == null ? new double[c] : cpu.read(bias);
            double[] ys = new double[xs.length];
            for (int i = 0; i < xs.length; i++) {
                int k = (int) ((i / spatial) % c);
                ys[i] = xs[i] - mean[k] + b[k];
            }
            cpu.write(y, ys);
            cpu.write(saveMean, mean);
        }

        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long c = layout.c();
                if (batchStatistics) {
                    gpu.channelStatistics(s, x, layout, new Statistics(0, false, gpu.pointer(saveMean), null, null,
                            runningMean == null ? null : new RunningStats(runningMean, null), factor));
                } else {
                    gpu.copy(gpu.pointer(saveMean), gpu.pointer(runningMean), 4 * c);
                }
                gpu.apply(x, y, layout, new Coefficients(ones(gpu, s, c), null, gpu.pointer(bias),
                        gpu.pointer(saveMean), 1, false));
            }
        }
    }

    /**
     * {@code dx = dy − Σ dy/(N·S)} per channel when the batch's mean was used (the mean depends on
     * x), else {@code dx = dy}; {@code gradBias += Σ dy}.
     */
    record Backward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, Tensor saveMean, Tensor dx,
                    Tensor gradBias) implements SixteenBitOp {
        @Override
        public String name() {
            return "mean-only backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] dys = cpu.read(dy);
            int c = (int) layout.c();
            int spatial = (int) layout.s();
            double[] sum = new double[c];
            for (int i = 0; i < dys.length; i++) {
                sum[(i / spatial) % c] += dys[i];
            }
            double count = (double) layout.n() * spatial;
            double[] dxs = new double[dys.length];
            for (int i = 0; i < dys.length; i++) {
                dxs[i] = dys[i] - (batchStatistics ? sum[(i / spatial) % c] / count : 0);
            }
            cpu.write(dx, dxs);
            cpu.accumulate(gradBias, sum);
        }

        /**
         * One pass over dy for its per-channel mean (stats.cu), then dx = dy − mean(dy) (nc_apply with
         * the mean as its center; dy itself in eval): 12 B per element, x not read.
         */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long c = layout.c();
                DevicePointer meanDy = null;
                if (batchStatistics || gradBias != null) {
                    meanDy = s.floats(c);
                    gpu.channelStatistics(s, dy, layout, Statistics.of(0, meanDy, null, null));
                    if (gradBias != null) {
                        Kernels.meanOnlyBiasGrad().meanDy(meanDy).C(c).count(layout.n() * layout.s())
                                .gradB(gpu.pointer(gradBias)).launch(gpu.launcher(), gpu.grid(c));
                    }
                }
                gpu.apply(dy, dx, layout, new Coefficients(ones(gpu, s, c), null, null,
                        batchStatistics ? meanDy : null, 1, false));
            }
        }
    }

    /** A scratch array of {@code c} ones: the elementwise pass's A. */
    private static DevicePointer ones(CudaKit gpu, Scratch s, long c) {
        DevicePointer a = s.floats(c);
        gpu.fill(a, 1f, c);
        return a;
    }
}
