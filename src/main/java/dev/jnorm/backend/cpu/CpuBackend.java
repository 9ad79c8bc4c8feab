package dev.jnorm.backend.cpu;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * The reference backend: every operation in float64 with two-pass statistics, whatever the
 * tensors' dtype, results rounded to the output's dtype on store. Independent groups run in
 * parallel; every sum runs in a fixed order, so results are deterministic.
 *
 * <p>Each operation reads its tensors into {@code double[]} copies, computes, and writes back:
 * the formulas below are the contract the CUDA kernels are tested against.
 */
public final class CpuBackend implements Backend {
    /** Below this many elements a parallel loop costs more than it saves. */
    private static final long PARALLEL_THRESHOLD = 1 << 15;

    private final NetworkOps network = new CpuNetworkOps(this);

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return "CPU backend (float64 reference, " + Runtime.getRuntime().availableProcessors() + " threads)";
    }

    // ---- memory ----

    @Override
    public boolean supports(DType dtype) {
        return true;
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        return HostTensor.zeros(this, shape, dtype);
    }

    @Override
    public Tensor empty(Shape shape, DType dtype) {
        return allocate(shape, dtype);
    }

    @Override
    public Tensor upload(float[] values, Shape shape) {
        Tensor t = allocate(shape, DType.FLOAT32);
        t.copyFrom(values);
        return t;
    }

    @Override
    public Tensor upload(double[] values, Shape shape) {
        Tensor t = allocate(shape, DType.FLOAT64);
        t.copyFrom(values);
        return t;
    }

    @Override
    public void fill(Tensor t, double value) {
        own(t).fill(value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        own(src);
        own(dst);
        if (dst.dtype() == DType.FLOAT32 && src.dtype() == DType.FLOAT32) {
            dst.copyFrom(src.toFloatArray());
        } else {
            dst.copyFrom(src.toDoubleArray());
        }
    }

    @Override
    public NetworkOps network() {
        return network;
    }

    HostTensor own(Tensor t) {
        if (!(t instanceof HostTensor h) || t.backend() != this) {
            throw new IllegalArgumentException("tensor " + t + " does not belong to this CPU backend");
        }
        return h;
    }

    // ---- rows family ----

    @Override
    public void rowsForward(RowsLayout layout, double eps, Tensor x, Tensor weight, Tensor bias,
                            Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running, double factor) {
        double[] xs = read(x);
        RowParameters w = RowParameters.of(layout, read(weight), 1);
        RowParameters b = RowParameters.of(layout, read(bias), 0);
        int rows = (int) layout.rows();
        int length = (int) layout.length();
        double[] ys = new double[xs.length];
        double[] mean = new double[rows];
        double[] var = new double[rows];
        double[] rstd = new double[rows];
        forEach(rows, xs.length, r -> {
            int start = r * length;
            mean[r] = layout.centered() ? Moments.mean(xs, start, length, 1, 0) : 0;
            var[r] = Moments.meanSquare(xs, start, length, 1, 0, mean[r]);
            rstd[r] = Moments.rstd(var[r], eps);
            double[] wr = w.row(r);
            double[] br = b.row(r);
            for (int j = 0; j < length; j++) {
                ys[start + j] = (xs[start + j] - mean[r]) * rstd[r] * wr[j] + br[j];
            }
        });
        write(y, ys);
        if (saveMean != null) {
            write(saveMean, mean);
        }
        write(saveRstd, rstd);
        if (running != null) {
            updateInstanceRunning(running, factor, mean, var, (int) layout.channels(), length);
        }
    }

    /** InstanceNorm's running update: per-(n, c) statistics averaged over n, as PyTorch does. */
    private static void updateInstanceRunning(RunningStats running, double factor, double[] mean, double[] var,
                                              int channels, int spatial) {
        int n = mean.length / channels;
        double[] batchMean = new double[channels];
        double[] batchVar = new double[channels];
        for (int c = 0; c < channels; c++) {
            for (int k = 0; k < n; k++) {
                batchMean[c] += mean[k * channels + c];
                batchVar[c] += var[k * channels + c];
            }
            batchMean[c] /= n;
            batchVar[c] /= n;
        }
        updateRunning(running, factor, batchMean, batchVar, spatial);
    }

    /** {@code running = (1 − f)·running + f·batch}, with the variance made unbiased over {@code count} values. */
    private static void updateRunning(RunningStats running, double factor, double[] mean, double[] var, long count) {
        double[] rm = running.mean().toDoubleArray();
        double[] rv = running.var().toDoubleArray();
        double unbias = (double) count / (count - 1);
        for (int c = 0; c < rm.length; c++) {
            rm[c] = (1 - factor) * rm[c] + factor * mean[c];
            rv[c] = (1 - factor) * rv[c] + factor * var[c] * unbias;
        }
        running.mean().copyFrom(rm);
        running.var().copyFrom(rv);
    }

    @Override
    public void rowsBackward(RowsLayout layout, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd, Tensor weight,
                             Tensor dx, Tensor gradWeight, Tensor gradBias) {
        double[] xs = read(x);
        double[] dys = read(dy);
        double[] mean = saveMean == null ? new double[(int) layout.rows()] : read(saveMean);
        double[] rstd = read(saveRstd);
        RowParameters w = RowParameters.of(layout, read(weight), 1);
        int length = (int) layout.length();
        double[] dxs = new double[xs.length];
        forEach((int) layout.rows(), xs.length, r -> {
            int start = r * length;
            double[] wr = w.row(r);
            double sumG = 0;
            double sumGXhat = 0;
            for (int j = 0; j < length; j++) {
                double g = dys[start + j] * wr[j];
                sumG += g;
                sumGXhat += g * (xs[start + j] - mean[r]) * rstd[r];
            }
            double meanG = layout.centered() ? sumG / length : 0;
            double meanGXhat = sumGXhat / length;
            for (int j = 0; j < length; j++) {
                double xhat = (xs[start + j] - mean[r]) * rstd[r];
                dxs[start + j] = rstd[r] * (dys[start + j] * wr[j] - meanG - xhat * meanGXhat);
            }
        });
        write(dx, dxs);
        if (gradWeight != null || gradBias != null) {
            // Per pattern position first, in row order, then folded onto the parameters.
            double[][] gw = new double[w.patterns()][length];
            double[][] gb = new double[w.patterns()][length];
            for (int r = 0; r < layout.rows(); r++) {
                double[] gwr = gw[w.pattern(r)];
                double[] gbr = gb[w.pattern(r)];
                for (int j = 0, i = r * length; j < length; j++, i++) {
                    gwr[j] += dys[i] * (xs[i] - mean[r]) * rstd[r];
                    gbr[j] += dys[i];
                }
            }
            accumulate(gradWeight, w.fold(gw));
            accumulate(gradBias, w.fold(gb));
        }
    }

    // ---- channels family ----

    @Override
    public void channelsForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor weight,
                                Tensor bias, Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running,
                                double factor) {
        double[] xs = read(x);
        double[] w = read(weight);
        double[] b = read(bias);
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        double[] mean = new double[channels];
        double[] var = new double[channels];
        channelStatistics(layout, xs, batchStatistics, running, mean, var);
        double[] rstd = new double[channels];
        for (int c = 0; c < channels; c++) {
            rstd[c] = Moments.rstd(var[c], eps);
        }
        double[] ys = new double[xs.length];
        forEach((int) (layout.n() * channels), xs.length, row -> {
            int c = row % channels;
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                ys[i] = affine((xs[i] - mean[c]) * rstd[c], w, b, c);
            }
        });
        write(y, ys);
        write(saveMean, mean);
        write(saveRstd, rstd);
        if (batchStatistics && running != null) {
            updateRunning(running, factor, mean, var, layout.n() * layout.s());
        }
    }

    /** Per-channel mean and biased variance, over (N, S) of the batch or from the running statistics. */
    private void channelStatistics(NcsLayout layout, double[] xs, boolean batchStatistics, RunningStats running,
                                   double[] mean, double[] var) {
        if (!batchStatistics) {
            System.arraycopy(read(running.mean()), 0, mean, 0, mean.length);
            System.arraycopy(read(running.var()), 0, var, 0, var.length);
            return;
        }
        int spatial = (int) layout.s();
        int stride = (int) (layout.c() * layout.s());
        forEach(mean.length, xs.length, c -> {
            mean[c] = Moments.mean(xs, c * spatial, spatial, (int) layout.n(), stride);
            var[c] = Moments.meanSquare(xs, c * spatial, spatial, (int) layout.n(), stride, mean[c]);
        });
    }

    @Override
    public void channelsBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, Tensor saveMean,
                                 Tensor saveRstd, Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias) {
        double[] xs = read(x);
        double[] dys = read(dy);
        double[] mean = read(saveMean);
        double[] rstd = read(saveRstd);
        double[] w = read(weight);
        ChannelSums sums = channelSums(layout, xs, dys, mean, rstd);
        double count = layout.n() * layout.s();
        double[] dxs = new double[xs.length];
        forEachElementByChannel(layout, xs.length, (i, c) -> {
            double g = dys[i] * param(w, c);
            if (batchStatistics) {
                double xhat = (xs[i] - mean[c]) * rstd[c];
                dxs[i] = rstd[c] * (g - param(w, c) * (sums.dy[c] + xhat * sums.dyXhat[c]) / count);
            } else {
                dxs[i] = rstd[c] * g;
            }
        });
        write(dx, dxs);
        accumulate(gradWeight, sums.dyXhat);
        accumulate(gradBias, sums.dy);
    }

    /** Per channel, {@code Σ dy} and {@code Σ dy·x̂} over (N, S). */
    private record ChannelSums(double[] dy, double[] dyXhat) {
    }

    private ChannelSums channelSums(NcsLayout layout, double[] xs, double[] dys, double[] mean, double[] rstd) {
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        double[] sumDy = new double[channels];
        double[] sumDyXhat = new double[channels];
        forEach(channels, xs.length, c -> {
            for (int k = 0; k < layout.n(); k++) {
                int base = (k * channels + c) * spatial;
                for (int i = base; i < base + spatial; i++) {
                    sumDy[c] += dys[i];
                    sumDyXhat[c] += dys[i] * (xs[i] - mean[c]) * rstd[c];
                }
            }
        });
        return new ChannelSums(sumDy, sumDyXhat);
    }

    // ---- WeightNorm ----

    @Override
    public void weightNormForward(NcsLayout layout, Tensor v, Tensor g, Tensor w, Tensor saveNorm) {
        double[] vs = read(v);
        double[] gs = read(g);
        int slices = (int) layout.c();
        int inner = (int) layout.s();
        double[] norm = new double[slices];
        for (int b = 0; b < slices; b++) {
            norm[b] = Math.sqrt(Moments.sumOfSquares(vs, b * inner, inner, (int) layout.n(), slices * inner, 0));
        }
        double[] ws = new double[vs.length];
        forEachElementByChannel(layout, vs.length, (i, b) -> ws[i] = vs[i] * (gs[b] / norm[b]));
        write(w, ws);
        write(saveNorm, norm);
    }

    @Override
    public void weightNormBackward(NcsLayout layout, Tensor v, Tensor g, Tensor saveNorm, Tensor dw,
                                   Tensor gradV, Tensor gradG) {
        double[] vs = read(v);
        double[] gs = read(g);
        double[] norm = read(saveNorm);
        double[] dws = read(dw);
        int slices = (int) layout.c();
        double[] dot = new double[slices];
        forEachElementByChannel(layout, 0, (i, b) -> dot[b] += dws[i] * vs[i]); // work 0: sequential
        double[] dg = new double[slices];
        for (int b = 0; b < slices; b++) {
            dg[b] = dot[b] / norm[b];
        }
        double[] dv = new double[vs.length];
        forEachElementByChannel(layout, vs.length, (i, b) ->
                dv[i] = gs[b] / norm[b] * (dws[i] - vs[i] * dot[b] / (norm[b] * norm[b])));
        accumulate(gradV, dv);
        accumulate(gradG, dg);
    }

    // ---- Batch-Instance ----

    @Override
    public void batchInstanceForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor rho,
                                     Tensor weight, Tensor bias, Tensor y, BatchInstanceStats saved,
                                     RunningStats running, double factor) {
        double[] xs = read(x);
        double[] rhos = read(rho);
        double[] w = read(weight);
        double[] b = read(bias);
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        double[] bnMean = new double[channels];
        double[] bnVar = new double[channels];
        channelStatistics(layout, xs, batchStatistics, running, bnMean, bnVar);
        double[] bnRstd = new double[channels];
        for (int c = 0; c < channels; c++) {
            bnRstd[c] = Moments.rstd(bnVar[c], eps);
        }
        int rows = (int) (layout.n() * channels);
        double[] inMean = new double[rows];
        double[] inRstd = new double[rows];
        double[] ys = new double[xs.length];
        forEach(rows, xs.length, row -> {
            int c = row % channels;
            int start = row * spatial;
            inMean[row] = Moments.mean(xs, start, spatial, 1, 0);
            inRstd[row] = Moments.rstd(Moments.meanSquare(xs, start, spatial, 1, 0, inMean[row]), eps);
            for (int i = start; i < start + spatial; i++) {
                double xhatBn = (xs[i] - bnMean[c]) * bnRstd[c];
                double xhatIn = (xs[i] - inMean[row]) * inRstd[row];
                ys[i] = affine(rhos[c] * xhatBn + (1 - rhos[c]) * xhatIn, w, b, c);
            }
        });
        write(y, ys);
        write(saved.batchMean(), bnMean);
        write(saved.batchRstd(), bnRstd);
        write(saved.instanceMean(), inMean);
        write(saved.instanceRstd(), inRstd);
        if (batchStatistics && running != null) {
            updateRunning(running, factor, bnMean, bnVar, layout.n() * layout.s());
        }
    }

    @Override
    public void batchInstanceBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy,
                                      BatchInstanceStats saved, Tensor rho, Tensor weight,
                                      Tensor dx, Tensor gradRho, Tensor gradWeight, Tensor gradBias) {
        double[] xs = read(x);
        double[] dys = read(dy);
        double[] bnMean = read(saved.batchMean());
        double[] bnRstd = read(saved.batchRstd());
        double[] inMean = read(saved.instanceMean());
        double[] inRstd = read(saved.instanceRstd());
        double[] rhos = read(rho);
        double[] w = read(weight);
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        int rows = (int) (layout.n() * channels);
        double count = layout.n() * layout.s();
        // BatchNorm branch: g1 = rho·weight·dy, reduced per channel over (N, S).
        ChannelSums bnSums = channelSums(layout, xs, dys, bnMean, bnRstd);
        double[] dxs = new double[xs.length];
        forEach(rows, xs.length, row -> {
            int c = row % channels;
            int start = row * spatial;
            double wc = param(w, c);
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
                        ? bnRstd[c] * g1Scale * (dys[i] - (bnSums.dy[c] + xhatBn * bnSums.dyXhat[c]) / count)
                        : bnRstd[c] * g1Scale * dys[i];
                double inPart = inRstd[row] * g2Scale * (dys[i] - (sumDy + xhatIn * sumDyXhat) / spatial);
                dxs[i] = bnPart + inPart;
            }
        });
        write(dx, dxs);
        double[] gRho = new double[channels];
        double[] gw = new double[channels];
        double[] gb = new double[channels];
        for (int row = 0; row < rows; row++) {
            int c = row % channels;
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                double xhatBn = (xs[i] - bnMean[c]) * bnRstd[c];
                double xhatIn = (xs[i] - inMean[row]) * inRstd[row];
                gRho[c] += dys[i] * param(w, c) * (xhatBn - xhatIn);
                gw[c] += dys[i] * (rhos[c] * xhatBn + (1 - rhos[c]) * xhatIn);
                gb[c] += dys[i];
            }
        }
        accumulate(gradRho, gRho);
        accumulate(gradWeight, gw);
        accumulate(gradBias, gb);
    }

    // ---- Switchable ----

    @Override
    public void switchableForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor meanWeight,
                                  Tensor varWeight, Tensor weight, Tensor bias, Tensor y, SwitchableStats saved,
                                  RunningStats running, double factor) {
        double[] xs = read(x);
        double[] w = read(weight);
        double[] b = read(bias);
        double[] p = softmax(read(meanWeight));
        double[] q = softmax(read(varWeight));
        int n = (int) layout.n();
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        int rows = n * channels;
        double[] inMean = new double[rows];
        double[] inVar = new double[rows];
        forEach(rows, xs.length, row -> {
            inMean[row] = Moments.mean(xs, row * spatial, spatial, 1, 0);
            inVar[row] = Moments.meanSquare(xs, row * spatial, spatial, 1, 0, inMean[row]);
        });
        double[] lnMean = new double[n];
        double[] lnVar = new double[n];
        int example = channels * spatial;
        forEach(n, xs.length, k -> {
            lnMean[k] = Moments.mean(xs, k * example, example, 1, 0);
            lnVar[k] = Moments.meanSquare(xs, k * example, example, 1, 0, lnMean[k]);
        });
        double[] bnMean = new double[channels];
        double[] bnVar = new double[channels];
        channelStatistics(layout, xs, batchStatistics, running, bnMean, bnVar);
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        double[] ys = new double[xs.length];
        forEach(rows, xs.length, row -> {
            int k = row / channels;
            int c = row % channels;
            mean[row] = p[0] * inMean[row] + p[1] * lnMean[k] + p[2] * bnMean[c];
            rstd[row] = Moments.rstd(q[0] * inVar[row] + q[1] * lnVar[k] + q[2] * bnVar[c], eps);
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                ys[i] = affine((xs[i] - mean[row]) * rstd[row], w, b, c);
            }
        });
        write(y, ys);
        write(saved.mean(), mean);
        write(saved.rstd(), rstd);
        write(saved.instanceMean(), inMean);
        write(saved.instanceVar(), inVar);
        write(saved.layerMean(), lnMean);
        write(saved.layerVar(), lnVar);
        write(saved.batchMean(), bnMean);
        write(saved.batchVar(), bnVar);
        if (batchStatistics && running != null) {
            updateRunning(running, factor, bnMean, bnVar, layout.n() * layout.s());
        }
    }

    @Override
    public void switchableBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy,
                                   SwitchableStats saved, Tensor meanWeight, Tensor varWeight, Tensor weight,
                                   Tensor dx, Tensor gradMeanWeight, Tensor gradVarWeight, Tensor gradWeight,
                                   Tensor gradBias) {
        double[] xs = read(x);
        double[] dys = read(dy);
        double[] w = read(weight);
        double[] p = softmax(read(meanWeight));
        double[] q = softmax(read(varWeight));
        double[] mean = read(saved.mean());
        double[] rstd = read(saved.rstd());
        double[][] means = {read(saved.instanceMean()), read(saved.layerMean()), read(saved.batchMean())};
        double[][] vars = {read(saved.instanceVar()), read(saved.layerVar()), read(saved.batchVar())};
        int n = (int) layout.n();
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        int rows = n * channels;
        // Gradients of the loss with respect to the mixed mean and variance of each (n, c) row.
        double[] dMean = new double[rows];
        double[] dVar = new double[rows];
        forEach(rows, xs.length, row -> {
            double wc = param(w, row % channels);
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
        forEach(rows, xs.length, row -> {
            int k = row / channels;
            int c = row % channels;
            double wc = param(w, c);
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
        write(dx, dxs);
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
        accumulate(gradMeanWeight, softmaxBackward(p, dp));
        accumulate(gradVarWeight, softmaxBackward(q, dq));
        double[] gw = new double[channels];
        double[] gb = new double[channels];
        for (int row = 0; row < rows; row++) {
            int c = row % channels;
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                gw[c] += dys[i] * (xs[i] - mean[row]) * rstd[row];
                gb[c] += dys[i];
            }
        }
        accumulate(gradWeight, gw);
        accumulate(gradBias, gb);
    }

    static double[] softmax(double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (double l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static double[] softmaxBackward(double[] p, double[] dp) {
        double dot = 0;
        for (int i = 0; i < p.length; i++) {
            dot += p[i] * dp[i];
        }
        double[] dLogits = new double[p.length];
        for (int j = 0; j < p.length; j++) {
            dLogits[j] = p[j] * (dp[j] - dot);
        }
        return dLogits;
    }

    // ---- helpers ----

    private double[] read(Tensor t) {
        return t == null ? null : own(t).toDoubleArray();
    }

    private void write(Tensor t, double[] values) {
        own(t).copyFrom(values);
    }

    /** {@code grad += values}, when there is a gradient to accumulate into. */
    private void accumulate(Tensor grad, double[] values) {
        if (grad == null) {
            return;
        }
        double[] g = read(grad);
        for (int i = 0; i < g.length; i++) {
            g[i] += values[i];
        }
        write(grad, g);
    }

    private static double param(double[] p, int i) {
        return p == null ? 1.0 : p[i];
    }

    private static double affine(double xhat, double[] w, double[] b, int p) {
        return xhat * param(w, p) + (b == null ? 0.0 : b[p]);
    }

    /** Runs {@code body} for 0..count−1, in parallel when {@code work} elements are worth it. */
    private static void forEach(int count, long work, IntConsumer body) {
        IntStream range = IntStream.range(0, count);
        (work >= PARALLEL_THRESHOLD ? range.parallel() : range).forEach(body);
    }

    /** Visits element i of an [N, C, S] tensor with its channel c, in parallel over rows when worth it. */
    static void forEachElementByChannel(NcsLayout layout, long work, ElementVisitor visitor) {
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        forEach((int) (layout.n() * channels), work, row -> {
            int c = row % channels;
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                visitor.visit(i, c);
            }
        });
    }

    @FunctionalInterface
    interface ElementVisitor {
        void visit(int index, int channel);
    }

    @Override
    public void close() {
        // Nothing to release: host tensors are garbage-collected.
    }
}
