package dev.jnorm.norm;

import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RunningStats;
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
 * Batch-Instance normalization, {@code y = weight_c·(rho_c·x̂_BN + (1 − rho_c)·x̂_IN) + bias_c}:
 * forward and backward, as the float64 reference and as the CUDA launch plan (InstanceNorm
 * statistics from stats.cu, composite.cu's coefficients, channels.cu's elementwise passes).
 */
final class BatchInstanceOp {
    private BatchInstanceOp() {
    }

    /**
     * BatchNorm statistics from the batch (updating {@code running} when not null) or from
     * {@code running}, InstanceNorm statistics always from the input.
     */
    record Forward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor rho, Tensor weight,
                   Tensor bias, Tensor y, BatchInstanceStats saved, RunningStats running, double factor)
            implements SixteenBitOp {
        @Override
        public String name() {
            return "batch-instance forward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] rhos = cpu.read(rho);
            double[] w = cpu.read(weight);
            double[] b = cpu.read(bias);
            int channels = (int) layout.c();
            int spatial = (int) layout.s();
            double[] bnMean = new double[channels];
            double[] bnVar = new double[channels];
            cpu.channelStatistics(layout, xs, batchStatistics, running, bnMean, bnVar);
            double[] bnRstd = Moments.rstd(bnVar, eps);
            int rows = (int) (layout.n() * channels);
            double[] inMean = new double[rows];
            double[] inRstd = new double[rows];
            double[] ys = new double[xs.length];
            CpuKit.forEach(rows, xs.length, row -> {
                int c = row % channels;
                int start = row * spatial;
                inMean[row] = Moments.mean(xs, start, spatial, 1, 0);
                inRstd[row] = Moments.rstd(Moments.meanSquare(xs, start, spatial, 1, 0, inMean[row]), eps);
                for (int i = start; i < start + spatial; i++) {
                    double xhatBn = (xs[i] - bnMean[c]) * bnRstd[c];
                    double xhatIn = (xs[i] - inMean[row]) * inRstd[row];
                    ys[i] = CpuKit.affine(rhos[c] * xhatBn + (1 - rhos[c]) * xhatIn, w, b, c);
                }
            });
            cpu.write(y, ys);
            cpu.write(saved.batchMean(), bnMean);
            cpu.write(saved.batchRstd(), bnRstd);
            cpu.write(saved.instanceMean(), inMean);
            cpu.write(saved.instanceRstd(), inRstd);
            if (batchStatistics && running != null) {
                cpu.updateRunning(running, factor, bnMean, bnVar, layout.n() * layout.s());
            }
        }

        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long q = layout.n() * layout.c();
                DevicePointer instanceVar = batchStatistics ? s.floats(q) : null;
                gpu.statistics(s, Segments.instances(x, layout), Statistics.of(eps,
                        gpu.pointer(saved.instanceMean()), instanceVar, gpu.pointer(saved.instanceRstd())));
                if (batchStatistics) { // merged from the instance statistics: x is read once for both
                    DevicePointer partials = s.floats(2 * q);
                    Kernels.instancePartials().mean(gpu.pointer(saved.instanceMean())).var(instanceVar)
                            .N(layout.n()).C(layout.c()).S(layout.s()).partials(partials)
                            .launch(gpu.launcher(), gpu.grid(q));
                    gpu.finalizeStatistics(s, partials, layout.c(), layout.n(), layout.n(), layout.s(),
                            new Statistics(eps, false, gpu.pointer(saved.batchMean()), null,
                                    gpu.pointer(saved.batchRstd()), running, factor));
                } else {
                    ChannelsOp.batchOrRunningStatistics(gpu, s, layout, eps, false, x,
                            gpu.pointer(saved.batchMean()), gpu.pointer(saved.batchRstd()), running, factor);
                }
                DevicePointer a = s.floats(q);
                DevicePointer d = s.floats(q);
                Kernels.binForwardCoefficients().bnMean(gpu.pointer(saved.batchMean()))
                        .bnRstd(gpu.pointer(saved.batchRstd())).inMean(gpu.pointer(saved.instanceMean()))
                        .inRstd(gpu.pointer(saved.instanceRstd())).rho(gpu.pointer(rho)).w(gpu.pointer(weight))
                        .b(gpu.pointer(bias)).N(layout.n()).C(layout.c()).A(a).D(d)
                        .launch(gpu.launcher(), gpu.grid(q));
                gpu.apply(x, y, layout, new Coefficients(a, null, d, gpu.pointer(saved.instanceMean()), 1, true));
            }
        }
    }

    /** The gradient of {@link Forward} for the input, rho, weight and bias. */
    record Backward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, BatchInstanceStats saved,
                    Tensor rho, Tensor weight, Tensor dx, Tensor gradRho, Tensor gradWeight, Tensor gradBias)
            implements SixteenBitOp {
        @Override
        public String name() {
            return "batch-instance backward";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] xs = cpu.read(x);
            double[] dys = cpu.read(dy);
            double[] bnMean = cpu.read(saved.batchMean());
            double[] bnRstd = cpu.read(saved.batchRstd());
            double[] inMean = cpu.read(saved.instanceMean());
            double[] inRstd = cpu.read(saved.instanceRstd());
            double[] rhos = cpu.read(rho);
            double[] w = cpu.read(weight);
            int channels = (int) layout.c();
            int spatial = (int) layout.s();
            int rows = (int) (layout.n() * channels);
            double count = layout.n() * layout.s();
            // BatchNorm branch: g1 = rho·weight·dy, reduced per channel over (N, S).
            CpuKit.ChannelSums bnSums = CpuKit.channelSums(layout, xs, dys, bnMean, bnRstd);
            double[] dxs = new double[xs.length];
            CpuKit.forEach(rows, xs.length, row -> {
                int c = row % channels;
                int start = row * spatial;
                double wc = CpuKit.param(w, c);
                // InstanceNorm branch: g2 = (1 − rho)·weight·dy, reduced per row over S.
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int i = start; i < start + spatial; i++) {
                    sumDy += dys[i];
                    sumDyXhat += dys[i] * (xs[i] - inMean[row]) * inRstd[row];
                }
                double g1Scale = rhos[c] * wc;
                double g2Scale = (1 - rhos[c]) * wc;
                for (int i = start; i < start + spatial; i++) {
                    double xhatBn = (xs[i] - bnMean[c]) * bnRstd[c];
                    double xhatIn = (xs[i] - inMean[row]) * inRstd[row];
                    double bnPart = batchStatistics
                            ? bnRstd[c] * g1Scale * (dys[i] - (bnSums.dy()[c] + xhatBn * bnSums.dyXhat()[c]) / count)
                            : bnRstd[c] * g1Scale * dys[i];
                    double inPart = inRstd[row] * g2Scale * (dys[i] - (sumDy + xhatIn * sumDyXhat) / spatial);
                    dxs[i] = bnPart + inPart;
                }
            });
            cpu.write(dx, dxs);
            double[] gRho = new double[channels];
            double[] gw = new double[channels];
            double[] gb = new double[channels];
            for (int row = 0; row < rows; row++) {
                int c = row % channels;
                for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                    double xhatBn = (xs[i] - bnMean[c]) * bnRstd[c];
                    double xhatIn = (xs[i] - inMean[row]) * inRstd[row];
                    gRho[c] += dys[i] * CpuKit.param(w, c) * (xhatBn - xhatIn);
                    gw[c] += dys[i] * (rhos[c] * xhatBn + (1 - rhos[c]) * xhatIn);
                    gb[c] += dys[i];
                }
            }
            cpu.accumulate(gradRho, gRho);
            cpu.accumulate(gradWeight, gw);
            cpu.accumulate(gradBias, gb);
        }

        @Override
        public void launch(CudaKit gpu) {
            try (Scratch s = gpu.scratch()) {
                long q = layout.n() * layout.c();
                Sums sums = new Sums(s.floats(q), s.floats(q));
                gpu.sums(s, Segments.instances(x, layout), dy,
                        gpu.pointer(saved.instanceMean()), 1, sums);
                DevicePointer a = s.floats(q);
                DevicePointer b = s.floats(q);
                DevicePointer d = s.floats(q);
                Kernels.binBackwardCoefficients().sumDy(sums.dy()).sumDyX(sums.dyX())
                        .bnMean(gpu.pointer(saved.batchMean())).bnRstd(gpu.pointer(saved.batchRstd()))
                        .inMean(gpu.pointer(saved.instanceMean())).inRstd(gpu.pointer(saved.instanceRstd()))
                        .rho(gpu.pointer(rho)).w(gpu.pointer(weight)).N(layout.n()).C(layout.c()).S(layout.s())
                        .batch(batchStatistics ? 1 : 0).A(a).B(b).D(d).gradRho(gpu.pointer(gradRho))
                        .gradW(gpu.pointer(gradWeight)).gradB(gpu.pointer(gradBias))
                        .launch(gpu.launcher(), gpu.grid(layout.c()));
                gpu.applyBackward(dy, x, dx, layout,
                        new Coefficients(a, b, d, gpu.pointer(saved.instanceMean()), 1, true));
            }
        }
    }
}
