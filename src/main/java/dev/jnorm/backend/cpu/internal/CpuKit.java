package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.tensor.Tensor;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * The building blocks of the float64 reference, for the norms' operations
 * ({@link dev.jnorm.backend.NormOp#reference}): tensors read into {@code double[]} and written back
 * rounded to their dtype, loops over independent groups in parallel (every sum in a fixed order, so
 * results are deterministic), and the statistics several norms share. Internal: not part of the API.
 */
public final class CpuKit {
    /**
     * Below this many elements a parallel loop costs more than it saves: waking the pool's threads
     * on a shared 2-core machine costs about as much as a pass over 2^18 floats (measured: LayerNorm
     * [64, 768] forward took 855 µs in parallel from 2^15, 154 µs serial).
     */
    private static final long PARALLEL_THRESHOLD = 1 << 18;

    private final Backend backend;

    /** The kit of {@code backend}, whose tensors are {@link HostTensor}s. */
    public CpuKit(Backend backend) {
        this.backend = backend;
    }

    /** The backend whose tensors this kit reads and writes. */
    public Backend backend() {
        return backend;
    }

    /** {@code t} as this backend's host tensor. */
    public HostTensor own(Tensor t) {
        if (!(t instanceof HostTensor h) || t.backend() != backend) {
            throw new IllegalArgumentException("tensor " + t + " does not belong to this CPU backend");
        }
        return h;
    }

    /** The values of {@code t}, or null for a null tensor. */
    public double[] read(Tensor t) {
        return t == null ? null : own(t).toDoubleArray();
    }

    public void write(Tensor t, double[] values) {
        own(t).copyFrom(values);
    }

    /** {@code grad += values}, when there is a gradient to accumulate into. */
    public void accumulate(Tensor grad, double[] values) {
        if (grad == null) {
            return;
        }
        double[] g = read(grad);
        for (int i = 0; i < g.length; i++) {
            g[i] += values[i];
        }
        write(grad, g);
    }

    /** {@code p[i]}, or 1 when there is no parameter. */
    public static double param(double[] p, int i) {
        return p == null ? 1.0 : p[i];
    }

    /** {@code x̂·w[p] + b[p]}, a missing weight 1 and bias 0. */
    public static double affine(double xhat, double[] w, double[] b, int p) {
        return xhat * param(w, p) + (b == null ? 0.0 : b[p]);
    }

    /** Runs {@code body} for 0..count−1, in parallel when {@code work} elements are worth it. */
    public static void forEach(int count, long work, IntConsumer body) {
        IntStream range = IntStream.range(0, count);
        (work >= PARALLEL_THRESHOLD ? range.parallel() : range).forEach(body);
    }

    /** Visits element i of an [N, C, S] tensor with its channel c, in parallel over rows when worth it. */
    public static void forEachElementByChannel(NcsLayout layout, long work, ElementVisitor visitor) {
        int channels = (int) layout.c();
        int spatial = (int) layout.s();
        forEach((int) (layout.n() * channels), work, row -> {
            int c = row % channels;
            for (int i = row * spatial; i < (row + 1) * spatial; i++) {
                visitor.visit(i, c);
            }
        });
    }

    /** What {@link #forEachElementByChannel} visits. */
    @FunctionalInterface
    public interface ElementVisitor {
        void visit(int index, int channel);
    }

    /** Per-channel mean and biased variance, over (N, S) of the batch or from the running statistics. */
    public void channelStatistics(NcsLayout layout, double[] xs, boolean batchStatistics, RunningStats running,
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

    /** Per channel, {@code Σ dy} and {@code Σ dy·x̂} over (N, S). */
    public record ChannelSums(double[] dy, double[] dyXhat) {
    }

    public static ChannelSums channelSums(NcsLayout layout, double[] xs, double[] dys, double[] mean, double[] rstd) {
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

    /**
     * {@code running = (1 − f)·running + f·batch}, with the variance made unbiased over {@code count}
     * values; the mean only where the running statistics keep no variance (mean-only BatchNorm).
     */
    public void updateRunning(RunningStats running, double factor, double[] mean, double[] var, long count) {
        double[] rm = read(running.mean());
        for (int c = 0; c < rm.length; c++) {
            rm[c] = (1 - factor) * rm[c] + factor * mean[c];
        }
        write(running.mean(), rm);
        if (running.var() == null) {
            return;
        }
        double[] rv = read(running.var());
        double unbias = (double) count / (count - 1);
        for (int c = 0; c < rv.length; c++) {
            rv[c] = (1 - factor) * rv[c] + factor * var[c] * unbias;
        }
        write(running.var(), rv);
    }

    public static double[] softmax(double[] logits) {
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

    /** The logits' gradient for {@code dp}, the gradient of {@code p = softmax(logits)}. */
    public static double[] softmaxBackward(double[] p, double[] dp) {
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
}
