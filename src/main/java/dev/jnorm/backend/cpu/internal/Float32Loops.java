package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;

/**
 * The CPU backend's fast path for float32 norms ({@link dev.jnorm.backend.NormOp#float32}): loops
 * on the tensors' own float arrays, no copies, in parallel over channels, rows or fixed chunks of
 * rows. Statistics and every sum are taken in double (one pass about the group's first value, see
 * {@link #moments}); the elementwise passes are {@code y = (x − mean)·a + b} in float with
 * per-channel (or per-position) coefficients computed in double, unit-stride loops the JIT
 * vectorizes. Sums across rows (parameter gradients) are added per fixed chunk and then in chunk
 * order, so results do not depend on the threads. The float64 reference stays the oracle: tests
 * hold these loops to it within float32's tolerances.
 */
public final class Float32Loops {
    /** Row chunks whose parameter-gradient partials are added in order: fixed, whatever the cores. */
    private static final int CHUNKS = 16;
    /** Rows the per-column float sums ([N, C] BatchNorm, LayerNorm's positions) run before they go into double. */
    private static final int FLUSH_ROWS = 32;

    private Float32Loops() {
    }

    /** A float32 tensor's storage from its offset; {@code a} null for a null tensor. */
    public record F32(float[] a, int o) {
        float get(int i) {
            return a[o + i];
        }
    }

    /** Whether every non-null tensor is float32 (the fast path's condition). */
    public static boolean float32(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t != null && t.dtype() != DType.FLOAT32) {
                return false;
            }
        }
        return true;
    }

    /** {@code t}'s storage, or an empty {@link F32} for a null tensor. */
    public static F32 f32(CpuKit cpu, Tensor t) {
        if (t == null) {
            return new F32(null, 0);
        }
        HostTensor h = cpu.own(t);
        return new F32(h.floatStorage(), h.storageOffset());
    }

    private static double param(F32 p, int i, double absent) {
        return p.a() == null ? absent : p.get(i);
    }

    /** Values each of the four float partial sums takes before they go into double: float's error stays near 2e-6. */
    private static final int BLOCK_VALUES = 128;

    /**
     * The mean (0 where not {@code centered}) and the biased variance (the mean square where not
     * centered) of {@code count} runs of {@code length} values from {@code start}, {@code stride}
     * apart, into {@code out}: one pass over {@code d = x − shift}, the shift the first value (so
     * that a constant group has its value as mean and exactly 0 as variance, and a common offset
     * cancels before the squares are summed). Four independent float partial sums of d and of d²
     * (no add waits on the one before) over blocks of {@value #BLOCK_VALUES} values, whose sums go
     * into double, in a fixed order.
     */
    static void moments(float[] x, int start, int length, int count, int stride, boolean centered, double[] out) {
        float shift = centered ? x[start] : 0f;
        double sum = 0;
        double squares = 0;
        for (int k = 0; k < count; k++) {
            int i = start + k * stride;
            int end = i + length;
            while (i + 4 <= end) {
                int blockEnd = Math.min(end - 3, i + BLOCK_VALUES);
                float s0 = 0;
                float s1 = 0;
                float s2 = 0;
                float s3 = 0;
                float q0 = 0;
                float q1 = 0;
                float q2 = 0;
                float q3 = 0;
                for (; i < blockEnd; i += 4) {
                    float d0 = x[i] - shift;
                    float d1 = x[i + 1] - shift;
                    float d2 = x[i + 2] - shift;
                    float d3 = x[i + 3] - shift;
                    s0 += d0;
                    s1 += d1;
                    s2 += d2;
                    s3 += d3;
                    q0 += d0 * d0;
                    q1 += d1 * d1;
                    q2 += d2 * d2;
                    q3 += d3 * d3;
                }
                sum += (double) s0 + s1 + s2 + s3;
                squares += (double) q0 + q1 + q2 + q3;
            }
            for (; i < end; i++) {
                double d = x[i] - shift;
                sum += d;
                squares += d * d;
            }
        }
        double n = (double) length * count;
        double mean = sum / n;
        out[0] = centered ? shift + mean : 0;
        out[1] = Math.max(0, squares / n - (centered ? mean * mean : 0));
    }

    /**
     * {@code Σ dy} into {@code out[0]} and {@code Σ dy·(x − center)} into {@code out[1]} over
     * {@code length} values (x from {@code xi}, dy from {@code gi}), as {@link #moments} sums: four
     * float partial sums of each per block of {@value #BLOCK_VALUES} values, each block's added into
     * double, in a fixed order.
     */
    private static void gradientSums(float[] x, int xi, float[] dy, int gi, int length, double center,
                                     double[] out) {
        float c = (float) center;
        double sumDy = 0;
        double sumDyX = 0;
        int t = 0;
        while (t + 4 <= length) {
            int blockEnd = Math.min(length - 3, t + BLOCK_VALUES);
            float a0 = 0;
            float a1 = 0;
            float a2 = 0;
            float a3 = 0;
            float b0 = 0;
            float b1 = 0;
            float b2 = 0;
            float b3 = 0;
            for (; t < blockEnd; t += 4) {
                float g0 = dy[gi + t];
                float g1 = dy[gi + t + 1];
                float g2 = dy[gi + t + 2];
                float g3 = dy[gi + t + 3];
                a0 += g0;
                a1 += g1;
                a2 += g2;
                a3 += g3;
                b0 += g0 * (x[xi + t] - c);
                b1 += g1 * (x[xi + t + 1] - c);
                b2 += g2 * (x[xi + t + 2] - c);
                b3 += g3 * (x[xi + t + 3] - c);
            }
            sumDy += (double) a0 + a1 + a2 + a3;
            sumDyX += (double) b0 + b1 + b2 + b3;
        }
        for (; t < length; t++) {
            double g = dy[gi + t];
            sumDy += g;
            sumDyX += g * (x[xi + t] - center);
        }
        out[0] += sumDy;
        out[1] += sumDyX;
    }

    // JDK 17's C2 vectorizes a loop only where its arrays share one index expression: at different
    // offsets (even equal ones it cannot prove equal) the loop stays scalar, ~4× slower. The
    // elementwise loops below therefore take a loop over one index where the tensors start at the
    // same offset (their own arrays, the usual case) and the general loop otherwise.

    /** {@code y[i] = (x[i] − m)·a + b} for {@code length} values. */
    private static void normalize(float[] x, int xi, float[] y, int yi, int length, float m, float a, float b) {
        if (xi == yi) {
            for (int i = xi; i < xi + length; i++) {
                y[i] = (x[i] - m) * a + b;
            }
            return;
        }
        for (int j = 0; j < length; j++) {
            y[yi + j] = (x[xi + j] - m) * a + b;
        }
    }

    /** {@code dx[i] = a·dy[i] − bx·(x[i] − m) − d} for {@code length} values: a norm's backward with its sums. */
    private static void backwardLine(float[] x, int xi, float[] dy, int gi, float[] dx, int oi, int length, float a,
                                     float bx, float m, float d) {
        if (xi == gi && gi == oi) {
            for (int i = xi; i < xi + length; i++) {
                dx[i] = a * dy[i] - bx * (x[i] - m) - d;
            }
            return;
        }
        for (int j = 0; j < length; j++) {
            dx[oi + j] = a * dy[gi + j] - bx * (x[xi + j] - m) - d;
        }
    }

    // ---------------------------------------------------------------- channels (BatchNorm)

    /**
     * Per-channel mean and biased variance over (N, S) into {@code mean}, {@code var}, in parallel
     * over channels.
     */
    public static void channelStatistics(NcsLayout l, F32 x, double[] mean, double[] var) {
        if (l.s() == 1) {
            columnStatistics(l, x, mean, var);
            return;
        }
        int s = (int) l.s();
        int stride = (int) (l.c() * s);
        CpuKit.forEach(mean.length, l.numel(), c -> {
            double[] m = new double[2];
            moments(x.a(), x.o() + c * s, s, (int) l.n(), stride, true, m);
            mean[c] = m[0];
            var[c] = m[1];
        });
    }

    /**
     * [N, C] (S = 1): each channel a column, so the sums run along the rows, all channels at once
     * (in double, row by row: a fixed order), instead of a strided walk per channel.
     */
    private static void columnStatistics(NcsLayout l, F32 x, double[] mean, double[] var) {
        int channels = (int) l.c();
        int n = (int) l.n();
        float[] shift = new float[channels];
        for (int c = 0; c < channels; c++) {
            shift[c] = x.a()[x.o() + c];
        }
        double[] sum = new double[channels];
        columnSums(x, n, channels, shift, false, sum);
        float[] center = new float[channels];
        for (int c = 0; c < channels; c++) {
            mean[c] = shift[c] + sum[c] / n;
            center[c] = (float) mean[c];
        }
        double[] squares = new double[channels];
        columnSums(x, n, channels, center, true, squares);
        for (int c = 0; c < channels; c++) {
            var[c] = squares[c] / n;
        }
    }

    /**
     * Whether row r of the rows [first, end) a loop walks ends a run of float sums: every
     * {@value #FLUSH_ROWS}th row, and the last.
     */
    private static boolean flushes(int r, int first, int end) {
        return (r - first + 1) % FLUSH_ROWS == 0 || r == end - 1;
    }

    /** Adds float partial sums into their double totals and clears them. */
    private static void drain(float[] partial, double[] into) {
        for (int i = 0; i < partial.length; i++) {
            into[i] += partial[i];
            partial[i] = 0;
        }
    }

    /**
     * Per channel of {@code n} rows of {@code channels} values: {@code Σ (x − center)}, or with
     * {@code squared} {@code Σ (x − center)²}, added into {@code out}; each row copied out first so
     * that the loop has one index (see normalize), summed in float over up to {@value #FLUSH_ROWS}
     * rows, then into double, in row order.
     */
    private static void columnSums(F32 x, int n, int channels, float[] center, boolean squared, double[] out) {
        float[] row = new float[channels];
        float[] partial = new float[channels];
        for (int r = 0; r < n; r++) {
            System.arraycopy(x.a(), x.o() + r * channels, row, 0, channels);
            if (squared) {
                for (int c = 0; c < channels; c++) {
                    float d = row[c] - center[c];
                    partial[c] += d * d;
                }
            } else {
                for (int c = 0; c < channels; c++) {
                    partial[c] += row[c] - center[c];
                }
            }
            if (flushes(r, 0, n)) {
                drain(partial, out);
            }
        }
    }

    /** Each channel's {@code rstd·w} and {@code b}, as float, for the elementwise passes. */
    private static float[][] coefficients(int channels, F32 w, F32 b, double[] rstd, double[] mean) {
        float[] a = new float[channels];
        float[] d = new float[channels];
        float[] m = new float[channels];
        for (int c = 0; c < channels; c++) {
            a[c] = (float) (rstd[c] * param(w, c, 1));
            d[c] = (float) param(b, c, 0);
            m[c] = (float) mean[c];
        }
        return new float[][] {a, d, m};
    }

    /** {@code y = (x − mean_c)·rstd_c·w_c + b_c}, in parallel over the (n, c) rows (over row blocks for [N, C]). */
    public static void channelsNormalize(NcsLayout l, F32 x, F32 w, F32 b, double[] mean, double[] rstd, F32 y) {
        int channels = (int) l.c();
        int s = (int) l.s();
        if (s == 1) {
            float[][] k = coefficients(channels, w, b, rstd, mean);
            rowBlocks((int) l.n(), channels, (from, to) -> {
                float[] a = k[0];
                float[] d = k[1];
                float[] m = k[2];
                float[] row = new float[channels];
                for (int r = from; r < to; r++) { // on a copy of the row: one index (see normalize)
                    System.arraycopy(x.a(), x.o() + r * channels, row, 0, channels);
                    for (int c = 0; c < channels; c++) {
                        row[c] = (row[c] - m[c]) * a[c] + d[c];
                    }
                    System.arraycopy(row, 0, y.a(), y.o() + r * channels, channels);
                }
            });
            return;
        }
        CpuKit.forEach((int) (l.n() * channels), l.numel(), row -> {
            int c = row % channels;
            normalize(x.a(), x.o() + row * s, y.a(), y.o() + row * s, s, (float) mean[c],
                    (float) (rstd[c] * param(w, c, 1)), (float) param(b, c, 0));
        });
    }

    /**
     * BatchNorm's backward: per channel {@code Σ dy} into {@code sumDy} and {@code Σ dy·x̂} into
     * {@code sumDyXhat} (in parallel over channels, each in (n, s) order), then
     * {@code dx = rstd·w·(dy − (Σ dy + x̂·Σ dy·x̂)/count)} (or {@code rstd·w·dy} with constant
     * statistics) in parallel over rows.
     */
    public static void channelsBackward(NcsLayout l, boolean batchStatistics, F32 x, F32 dy, double[] mean,
                                        double[] rstd, F32 w, F32 dx, double[] sumDy, double[] sumDyXhat) {
        int channels = (int) l.c();
        int s = (int) l.s();
        int n = (int) l.n();
        if (s == 1) {
            columnsBackward(l, batchStatistics, x, dy, mean, rstd, w, dx, sumDy, sumDyXhat);
            return;
        }
        CpuKit.forEach(channels, l.numel(), c -> {
            double[] sums = new double[2];
            for (int k = 0; k < n; k++) {
                int row = k * channels + c;
                gradientSums(x.a(), x.o() + row * s, dy.a(), dy.o() + row * s, s, mean[c], sums);
            }
            sumDy[c] = sums[0];
            sumDyXhat[c] = sums[1] * rstd[c];
        });
        double count = (double) n * s;
        CpuKit.forEach(n * channels, l.numel(), row -> {
            int c = row % channels;
            double scale = rstd[c] * param(w, c, 1);
            // dx = scale·dy − scale·rstd·(x − mean)·Σdy·x̂/count − scale·Σdy/count
            float a = (float) scale;
            float bx = batchStatistics ? (float) (scale * rstd[c] * sumDyXhat[c] / count) : 0f;
            float d = batchStatistics ? (float) (scale * sumDy[c] / count) : 0f;
            backwardLine(x.a(), x.o() + row * s, dy.a(), dy.o() + row * s, dx.a(), dx.o() + row * s, s, a, bx,
                    (float) mean[c], d);
        });
    }

    /** {@link #channelsBackward} for [N, C]: the sums along the rows, all channels at once, then dx by rows. */
    private static void columnsBackward(NcsLayout l, boolean batchStatistics, F32 x, F32 dy, double[] mean,
                                        double[] rstd, F32 w, F32 dx, double[] sumDy, double[] sumDyXhat) {
        int channels = (int) l.c();
        int n = (int) l.n();
        double[] sdx = new double[channels];
        float[] center = new float[channels];
        for (int c = 0; c < channels; c++) {
            center[c] = (float) mean[c];
        }
        // on copies of the rows (one index: see normalize), in float over up to FLUSH_ROWS rows
        float[] xr = new float[channels];
        float[] gr = new float[channels];
        float[] pDy = new float[channels];
        float[] pDyX = new float[channels];
        for (int r = 0; r < n; r++) {
            System.arraycopy(x.a(), x.o() + r * channels, xr, 0, channels);
            System.arraycopy(dy.a(), dy.o() + r * channels, gr, 0, channels);
            for (int c = 0; c < channels; c++) {
                pDy[c] += gr[c];
                pDyX[c] += gr[c] * (xr[c] - center[c]);
            }
            if (flushes(r, 0, n)) {
                drain(pDy, sumDy);
                drain(pDyX, sdx);
            }
        }
        float[] a = new float[channels];
        float[] bx = new float[channels];
        float[] d = new float[channels];
        float[] m = new float[channels];
        for (int c = 0; c < channels; c++) {
            sumDyXhat[c] = sdx[c] * rstd[c];
            double scale = rstd[c] * param(w, c, 1);
            a[c] = (float) scale;
            bx[c] = batchStatistics ? (float) (scale * rstd[c] * sumDyXhat[c] / n) : 0f;
            d[c] = batchStatistics ? (float) (scale * sumDy[c] / n) : 0f;
            m[c] = (float) mean[c];
        }
        rowBlocks(n, channels, (from, to) -> {
            float[] xc = new float[channels];
            float[] gc = new float[channels];
            for (int r = from; r < to; r++) {
                System.arraycopy(x.a(), x.o() + r * channels, xc, 0, channels);
                System.arraycopy(dy.a(), dy.o() + r * channels, gc, 0, channels);
                for (int c = 0; c < channels; c++) {
                    xc[c] = a[c] * gc[c] - bx[c] * (xc[c] - m[c]) - d[c];
                }
                System.arraycopy(xc, 0, dx.a(), dx.o() + r * channels, channels);
            }
        });
    }

    @FunctionalInterface
    private interface Rows {
        void run(int from, int to);
    }

    /** {@code body} over rows [0, n) of {@code length} values, in blocks of about 16K values, in parallel when worth it. */
    private static void rowBlocks(int n, int length, Rows body) {
        int per = Math.max(1, (1 << 14) / Math.max(length, 1));
        CpuKit.forEach((n + per - 1) / per, (long) n * length, k -> body.run(k * per, Math.min(n, (k + 1) * per)));
    }

    // ---------------------------------------------------------------- rows (LayerNorm, GroupNorm, ...)

    /**
     * Per row: mean (0 for RMS rows), biased variance (or mean square) and rstd, saved; then
     * {@code y = (x − mean)·rstd·w + b} with the parameters by position (elementwise) or by channel.
     */
    public static void rowsForward(RowsLayout l, double eps, F32 x, F32 w, F32 b, F32 y, double[] mean, double[] var,
                                   double[] rstd) {
        int length = (int) l.length();
        boolean perChannel = l.affine() == RowsLayout.Affine.PER_CHANNEL;
        int segment = perChannel ? (int) l.spatial() : length;
        int perRow = length / segment;
        int groups = perChannel ? (int) l.channels() / perRow : 1;
        float[] ws = perChannel ? null : positions(w, length, 1f);
        float[] bs = perChannel ? null : positions(b, length, 0f);
        rowBlocks((int) l.rows(), length, (from, to) -> {
            float[] row = perChannel ? null : new float[length];
            double[] moments = new double[2];
            for (int r = from; r < to; r++) {
                int start = r * length;
                moments(x.a(), x.o() + start, length, 1, 0, l.centered(), moments);
                mean[r] = moments[0];
                var[r] = moments[1];
                rstd[r] = 1.0 / Math.sqrt(var[r] + eps);
                float m = (float) mean[r];
                if (perChannel) {
                    for (int k = 0; k < perRow; k++) {
                        int c = r % groups * perRow + k;
                        normalize(x.a(), x.o() + start + k * segment, y.a(), y.o() + start + k * segment, segment,
                                m, (float) (rstd[r] * param(w, c, 1)), (float) param(b, c, 0));
                    }
                } else { // on a copy of the row, so that the loop has one index (see normalize): ~2×
                    float a = (float) rstd[r];
                    System.arraycopy(x.a(), x.o() + start, row, 0, length);
                    for (int j = 0; j < length; j++) {
                        row[j] = (row[j] - m) * a * ws[j] + bs[j];
                    }
                    System.arraycopy(row, 0, y.a(), y.o() + start, length);
                }
            }
        });
    }

    /** An elementwise parameter's {@code length} values from its offset, or {@code absent} everywhere. */
    private static float[] positions(F32 p, int length, float absent) {
        float[] v = new float[length];
        for (int j = 0; j < length; j++) {
            v[j] = p.a() == null ? absent : p.get(j);
        }
        return v;
    }

    /**
     * Per row {@code dx = rstd·(g − mean(g) − x̂·mean(g·x̂))}, {@code g = dy·w} (RMS rows without
     * {@code mean(g)}); the parameters' gradients ({@code Σ dy·x̂} and {@code Σ dy} by position or
     * by channel) summed per fixed chunk of rows, then over the chunks in order, into
     * {@code gradW}, {@code gradB} (either may be null).
     */
    public static void rowsBackward(RowsLayout l, F32 x, F32 dy, double[] mean, double[] rstd, F32 w, F32 dx,
                                    double[] gradW, double[] gradB) {
        int length = (int) l.length();
        boolean perChannel = l.affine() == RowsLayout.Affine.PER_CHANNEL;
        int segment = perChannel ? (int) l.spatial() : 1;
        int perRow = length / segment;
        int groups = perChannel ? (int) l.channels() / perRow : 1;
        int params = perChannel ? (int) l.channels() : length;
        int rows = (int) l.rows();
        int chunks = Math.min(CHUNKS, Math.max(rows, 1));
        double[][] pw = new double[chunks][params];
        double[][] pb = new double[chunks][params];
        if (!perChannel) {
            positionsBackward(l, x, dy, mean, rstd, positions(w, length, 1f), dx, chunks, pw, pb);
            addChunks(pw, pb, gradW, gradB);
            return;
        }
        CpuKit.forEach(chunks, l.numel(), chunk -> {
            double[] sDy = new double[perRow];
            double[] sDyX = new double[perRow];
            double[] sums = new double[2];
            for (int r = chunk * rows / chunks; r < (chunk + 1) * rows / chunks; r++) {
                int start = r * length;
                int first = perChannel ? r % groups * perRow : 0; // the row's first parameter
                float m = (float) mean[r];
                // per segment (a channel's run, or one position): Σ dy and Σ dy·(x − mean)
                for (int k = 0; k < perRow; k++) {
                    sums[0] = 0;
                    sums[1] = 0;
                    int i = start + k * segment;
                    gradientSums(x.a(), x.o() + i, dy.a(), dy.o() + i, segment, mean[r], sums);
                    sDy[k] = sums[0];
                    sDyX[k] = sums[1];
                }
                double sumG = 0;
                double sumGXhat = 0;
                for (int k = 0; k < perRow; k++) {
                    double wk = param(w, first + k, 1);
                    sumG += wk * sDy[k];
                    sumGXhat += wk * sDyX[k] * rstd[r];
                    pw[chunk][first + k] += sDyX[k] * rstd[r];
                    pb[chunk][first + k] += sDy[k];
                }
                double meanG = l.centered() ? sumG / length : 0;
                double meanGXhat = sumGXhat / length;
                float bx = (float) (rstd[r] * rstd[r] * meanGXhat);
                float d = (float) (rstd[r] * meanG);
                for (int k = 0; k < perRow; k++) {
                    int at = start + k * segment;
                    backwardLine(x.a(), x.o() + at, dy.a(), dy.o() + at, dx.a(), dx.o() + at, segment,
                            (float) (rstd[r] * param(w, first + k, 1)), bx, m, d);
                }
            }
        });
        addChunks(pw, pb, gradW, gradB);
    }

    /** The chunks' parameter-gradient partials added in chunk order (either gradient may be null). */
    private static void addChunks(double[][] pw, double[][] pb, double[] gradW, double[] gradB) {
        for (int chunk = 0; chunk < pw.length; chunk++) {
            for (int p = 0; p < pw[chunk].length; p++) {
                if (gradW != null) {
                    gradW[p] += pw[chunk][p];
                }
                if (gradB != null) {
                    gradB[p] += pb[chunk][p];
                }
            }
        }
    }

    /**
     * {@link #rowsBackward} with a parameter per position (LayerNorm, RMSNorm), on copies of each
     * row's x and dy so that every loop has one index (see normalize): in one pass x − mean, g = dy·w
     * and the chunk's per-position {@code Σ dy·x̂} and {@code Σ dy} (in float over up to
     * {@value #FLUSH_ROWS} rows, then added into double); the row's {@code Σ g} and
     * {@code Σ g·(x − mean)} as {@link #gradientSums} sums; dx from the copies (about 1.3× the
     * two scalar passes it replaces on [64, 768], one core).
     */
    private static void positionsBackward(RowsLayout l, F32 x, F32 dy, double[] mean, double[] rstd, float[] w, F32 dx,
                                          int chunks, double[][] pw, double[][] pb) {
        int length = (int) l.length();
        int rows = (int) l.rows();
        CpuKit.forEach(chunks, l.numel(), chunk -> {
            double[] gw = pw[chunk];
            double[] gb = pb[chunk];
            float[] xm = new float[length]; // x, then x − mean, then dx
            float[] g = new float[length];  // dy
            float[] gwRow = new float[length]; // dy·w
            float[] fw = new float[length];
            float[] fb = new float[length];
            double[] sums = new double[2];
            int first = chunk * rows / chunks;
            int end = (chunk + 1) * rows / chunks;
            for (int r = first; r < end; r++) {
                System.arraycopy(x.a(), x.o() + r * length, xm, 0, length);
                System.arraycopy(dy.a(), dy.o() + r * length, g, 0, length);
                float mf = (float) mean[r];
                float s = (float) rstd[r];
                for (int j = 0; j < length; j++) {
                    float gj = g[j];
                    float xj = xm[j] - mf;
                    xm[j] = xj;
                    gwRow[j] = gj * w[j];
                    fw[j] += gj * xj * s;
                    fb[j] += gj;
                }
                sums[0] = 0;
                sums[1] = 0;
                gradientSums(xm, 0, gwRow, 0, length, 0, sums);
                if (flushes(r, first, end)) {
                    drain(fw, gw);
                    drain(fb, gb);
                }
                double meanG = l.centered() ? sums[0] / length : 0;
                float bx = (float) (rstd[r] * rstd[r] * rstd[r] * sums[1] / length);
                float d = (float) (rstd[r] * meanG);
                for (int j = 0; j < length; j++) {
                    xm[j] = s * gwRow[j] - bx * xm[j] - d;
                }
                System.arraycopy(xm, 0, dx.a(), dx.o() + r * length, length);
            }
        });
    }
}
