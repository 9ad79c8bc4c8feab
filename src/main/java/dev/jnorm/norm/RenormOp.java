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
 * Batch Renormalization's training forward (its evaluation is BatchNorm's, {@link ChannelsOp}; its
 * backward is {@link ChannelsOp.Backward} with the saved r and d).
 */
final class RenormOp {
    private RenormOp() {
    }

    /**
     * With the batch's per-channel mean μ_B and σ_B = sqrt(Var_B + eps), and the running statistics'
     * μ and σ = sqrt(running_var + eps) from before this batch:
     * {@code r = clip(σ_B/σ, 1/rmax, rmax)}, {@code d = clip((μ_B − μ)/σ, −dmax, dmax)},
     * {@code y = w·(r·(x − μ_B)/σ_B + d) + b}; saves μ_B, 1/σ_B, r and d, then updates the running
     * statistics with the batch's as BatchNorm does.
     */
    record Forward(NcsLayout layout, double eps, double rmax, double dmax, Tensor x, Tensor weight, Tensor bias,
                   Tensor y, Tensor saveMean, Tensor saveRstd, Tensor r, Tensor d, RunningStats running, double factor)
            implements SixteenBitOp {
        @Override
        public String name() {
            return "batch renorm forward";
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
            double[] rm = cpu.read(running.mean());
            double[] rv = cpu.read(running.var());
            int channels = (int) layout.c();
            double[] mean = new double[channels];
            double[] var = new double[channels];
            cpu.channelStatistics(layout, xs, true, null, mean, var);
            double[] rstd = Moments.rstd(var, eps);
            double[] rs = new double[channels];
            double[] ds = new double[channels];
            for (int c = 0; c < channels; c++) {
                double sigma = Math.sqrt(rv[c] + eps);
                rs[c] = clip(Math.sqrt(var[c] + eps) / sigma, 1 / rmax, rmax);
                ds[c] = clip((mean[c] - rm[c]) / sigma, -dmax, dmax);
            }
            double[] ys = new double[xs.length];
            CpuKit.forEachElementByChannel(layout, xs.length, (i, c) ->
                    ys[i] = CpuKit.affine(rs[c] * (xs[i] - mean[c]) * rstd[c] + ds[c], w, b, c));
            cpu.write(y, ys);
            cpu.write(saveMean, mean);
            cpu.write(saveRstd, rstd);
            cpu.write(r, rs);
            cpu.write(d, ds);
            cpu.updateRunning(running, factor, mean, var, layout.n() * layout.s());
        }

        /** stats.cu's batch statistics, renorm_coefficients (r, d, the running update), one elementwise pass. */
        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                DevicePointer var = s.floats(layout.c());
                DevicePointer a = s.floats(layout.c());
                DevicePointer shift = s.floats(layout.c());
                gpu.channelStatistics(s, x, layout, new Statistics(eps, false, gpu.pointer(saveMean), var,
                        gpu.pointer(saveRstd), null, 0));
                Kernels.renormCoefficients().mean(gpu.pointer(saveMean)).var(var).rstd(gpu.pointer(saveRstd))
                        .runningMean(gpu.pointer(running.mean())).runningVar(gpu.pointer(running.var()))
                        .eps((float) eps).rmax((float) rmax).dmax((float) dmax).w(gpu.pointer(weight))
                        .b(gpu.pointer(bias)).C(layout.c()).count(layout.n() * layout.s()).factor((float) factor)
                        .rOut(gpu.pointer(r)).dOut(gpu.pointer(d)).A(a).D(shift)
                        .launch(gpu.launcher(), gpu.grid(layout.c()));
                gpu.apply(x, y, layout, new Coefficients(a, null, shift, gpu.pointer(saveMean), 1, false));
            }
        }
    }

    /** {@code v} clipped to [lo, hi]; NaN stays NaN, as in renorm_coefficients. */
    static double clip(double v, double lo, double hi) {
        return v < lo ? lo : (v > hi ? hi : v);
    }
}
