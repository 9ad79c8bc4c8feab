package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.stream.IntStream;

/**
 * The training stack's operations on host tensors, float32 or float64, element by element. GEMM
 * goes to OpenBLAS ({@link OpenBlas}: JavaCPP's preset, whose jar brings the library; operands in
 * native buffers, float32 convolutions there whole) where it is on the class path and loads, else to
 * netlib's BLAS ({@code sgemm}/{@code dgemm} on the tensors' own storage; on a machine without a
 * native BLAS installed, the reference one) where that is, else to {@link #plainGemm}, a loop over
 * rows. jnorm's command line has OpenBLAS and netlib; the library leaves both optional. Only one of
 * the two native BLAS is ever loaded: netlib's system {@code libblas.so.3}, loaded first, would take
 * over OpenBLAS's symbols.
 */
public final class CpuNetworkOps implements NetworkOps {
    private static final boolean OPENBLAS = onClassPath("org.bytedeco.openblas.global.openblas_nolapack")
            && OpenBlas.loads();
    private static final boolean NETLIB = !OPENBLAS && onClassPath("dev.ludovic.netlib.blas.BLAS");

    /** Where GEMM runs: OpenBLAS, netlib's BLAS or plain loops. */
    public static String gemmLibrary() {
        return OPENBLAS ? "OpenBLAS" : NETLIB ? "netlib BLAS" : "plain loops";
    }

    /** The one class that names netlib, loaded on the first GEMM with it, and only then. */
    private static final class Netlib {
        static final dev.ludovic.netlib.blas.BLAS BLAS = dev.ludovic.netlib.blas.BLAS.getInstance();

        /** Row-major C = op(A)·op(B) as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swapped. */
        static void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, HostTensor a,
                         HostTensor b, float beta, HostTensor c) {
            String opA = transposeA ? "T" : "N";
            String opB = transposeB ? "T" : "N";
            int lda = transposeA ? m : k;
            int ldb = transposeB ? k : n;
            if (c.floatStorage() != null) {
                BLAS.sgemm(opB, opA, n, m, k, alpha, b.floatStorage(), b.storageOffset(), ldb, a.floatStorage(),
                        a.storageOffset(), lda, beta, c.floatStorage(), c.storageOffset(), n);
            } else {
                BLAS.dgemm(opB, opA, n, m, k, alpha, b.doubleStorage(), b.storageOffset(), ldb, a.doubleStorage(),
                        a.storageOffset(), lda, beta, c.doubleStorage(), c.storageOffset(), n);
            }
        }
    }

    private final CpuKit kit;

    public CpuNetworkOps(CpuKit kit) {
        this.kit = kit;
    }

    private HostTensor host(Tensor t) {
        return kit.own(t);
    }

    /** Row-major {@code C = alpha·op(A)·op(B) + beta·C}; each leading dimension is the row length as stored. */
    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, Tensor a, Tensor b,
                     float beta, Tensor c) {
        if ((OPENBLAS || NETLIB) && c.dtype().sixteenBit()) {
            throw new IllegalArgumentException("the CPU training stack computes in float32 or float64, not "
                    + c.dtype() + ": 16-bit activations are for the norm layers (and the GPU)");
        }
        if (OPENBLAS) {
            OpenBlas.gemm(transposeA, transposeB, m, n, k, alpha, host(a), host(b), beta, host(c));
        } else if (NETLIB) {
            Netlib.gemm(transposeA, transposeB, m, n, k, alpha, host(a), host(b), beta, host(c));
        } else {
            plainGemm(transposeA, transposeB, m, n, k, alpha, host(a), host(b), beta, host(c));
        }
    }

    /**
     * Row-major {@code C = alpha·op(A)·op(B) + beta·C} without a BLAS: each row of C accumulated in
     * float64 over the rows of op(B) (unit stride where B is not transposed), rows in parallel.
     */
    static void plainGemm(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha, HostTensor a,
                          HostTensor b, double beta, HostTensor c) {
        double[] av = a.toDoubleArray();
        double[] bv = b.toDoubleArray();
        double[] cv = c.toDoubleArray();
        CpuKit.forEach(m, (long) m * n * k, i -> {
            double[] row = new double[n];
            for (int p = 0; p < k; p++) {
                double aip = alpha * (transposeA ? av[p * m + i] : av[i * k + p]);
                for (int j = 0; j < n; j++) {
                    row[j] += aip * (transposeB ? bv[j * k + p] : bv[p * n + j]);
                }
            }
            for (int j = 0; j < n; j++) {
                cv[i * n + j] = row[j] + (beta == 0 ? 0 : beta * cv[i * n + j]);
            }
        });
        c.copyFrom(cv);
    }

    private static boolean onClassPath(String className) {
        try {
            Class.forName(className, false, CpuNetworkOps.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * Images in a fixed number of chunks (at most {@link #CHUNKS}), run in parallel, each chunk with
     * a columns buffer: per image the columns ({@link ConvRuns#im2col}) and {@code y = W·cols};
     * float32 with OpenBLAS on native buffers ({@link OpenBlas#convForward}).
     */
    @Override
    public void convForward(Tensor x, Tensor weight, Tensor bias, Tensor y, ConvGeometry g) {
        Tensor w = weight.reshape(Shape.of(g.out(), g.patch()));
        forEachChunk(g.n(), (chunk, from, to) -> {
            try (Tensor cols = columns(x.dtype(), g)) {
                if (onOpenBlas(x)) {
                    OpenBlas.convForward(host(x), host(weight), host(y), host(cols), g, from, to);
                    return;
                }
                for (int n = from; n < to; n++) {
                    ConvRuns.im2col(host(x), n * g.in() * g.plane(), g, host(cols));
                    gemm(false, false, g.out(), g.plane(), g.patch(), 1, w, cols, 0, image(y, n, g.out(), g));
                }
            }
        });
        if (bias != null) {
            addBias(y, new NcsLayout(g.n(), g.out(), g.plane()), bias);
        }
    }

    /**
     * Per image: {@code dW += dy·colsᵀ}, {@code dx = col2im(Wᵀ·dy)}. Each chunk sums its images' dW
     * into a buffer of its own; the buffers are then added to the gradient in chunk order, so the
     * result does not depend on how the chunks were scheduled.
     */
    @Override
    public void convBackward(Tensor x, Tensor weight, Tensor dy, Tensor dx, Tensor gradWeight, Tensor gradBias,
                             ConvGeometry g) {
        Shape matrix = Shape.of(g.out(), g.patch());
        Tensor w = weight.reshape(matrix);
        Tensor[] partial = new Tensor[chunks(g.n())];
        forEachChunk(g.n(), (chunk, from, to) -> {
            Tensor dw = kit.backend().allocate(matrix, x.dtype());
            partial[chunk] = dw;
            try (Tensor cols = columns(x.dtype(), g)) {
                if (onOpenBlas(x)) {
                    OpenBlas.convBackward(host(x), host(weight), host(dy), host(dx), host(dw), host(cols), g, from,
                            to);
                    return;
                }
                for (int n = from; n < to; n++) {
                    Tensor dyn = image(dy, n, g.out(), g);
                    ConvRuns.im2col(host(x), n * g.in() * g.plane(), g, host(cols));
                    gemm(false, true, g.out(), g.patch(), g.plane(), 1, dyn, cols, 1, dw);
                    gemm(true, false, g.patch(), g.plane(), g.out(), 1, w, dyn, 0, cols);
                    col2im(host(cols), g, host(image(dx, n, g.in(), g)));
                }
            }
        });
        HostTensor total = host(gradWeight);
        for (Tensor p : partial) {
            total.addRange(host(p), 0, 0, (int) p.numel());
            p.close();
        }
        if (gradBias != null) {
            biasGrad(dy, new NcsLayout(g.n(), g.out(), g.plane()), gradBias);
        }
    }

    private static final int CHUNKS = 4;

    @FunctionalInterface
    private interface ChunkWork {
        void run(int chunk, int from, int to);
    }

    private static int chunks(int images) {
        return Math.min(CHUNKS, images);
    }

    /** Splits images 0..n−1 into {@link #chunks} fixed chunks and runs them in parallel. */
    private static void forEachChunk(int n, ChunkWork work) {
        int chunks = chunks(n);
        IntStream.range(0, chunks).parallel().forEach(k -> work.run(k, k * n / chunks, (k + 1) * n / chunks));
    }

    /** Whether a convolution on {@code x} runs on OpenBLAS's native buffers ({@link OpenBlas#convForward}). */
    private static boolean onOpenBlas(Tensor x) {
        return OPENBLAS && x.dtype() == DType.FLOAT32;
    }

    /** A buffer for one image's columns. */
    private Tensor columns(DType dtype, ConvGeometry g) {
        return kit.backend().empty(Shape.of(g.patch(), g.plane()), dtype);
    }

    private static Tensor image(Tensor batch, int n, int channels, ConvGeometry g) {
        return batch.view((long) n * channels * g.plane(), Shape.of(channels, g.plane()));
    }

    /**
     * The adjoint of im2col: each row's padding entries zeroed in the columns (a scratch buffer) and
     * its run added back onto the pixels it was read from.
     */
    private static void col2im(HostTensor cols, ConvGeometry g, HostTensor image) {
        image.fill(0);
        ConvRuns.forEachRow(g, (at, lo, hi, source, dj) -> {
            if (hi > lo) {
                ConvRuns.zeroWrapped(cols, at, lo, hi, g.width(), dj);
                image.addRange(cols, at + lo, source, hi - lo);
            }
        });
    }

    // Each operation below has a float32 loop on the arrays themselves (parallel over fixed blocks of
    // rows, planes or elements, each written by one thread, sums in double and in a fixed order, so
    // results do not depend on the threads) and the element-by-element loop for float64 and 16-bit.

    /** The float32 storage of every tensor, or null where one is not float32. */
    private static float[][] floats(HostTensor... tensors) {
        float[][] arrays = new float[tensors.length][];
        for (int i = 0; i < tensors.length; i++) {
            arrays[i] = tensors[i].floatStorage();
            if (arrays[i] == null) {
                return null;
            }
        }
        return arrays;
    }

    @FunctionalInterface
    private interface Range {
        void run(int from, int to);
    }

    private static final int BLOCK = 1 << 14;

    /** {@code body} over [0, n) in blocks of {@link #BLOCK}, in parallel when there are several. */
    private static void blocks(int n, Range body) {
        CpuKit.forEach((n + BLOCK - 1) / BLOCK, n, b -> body.run(b * BLOCK, Math.min(n, (b + 1) * BLOCK)));
    }

    @Override
    public void addBias(Tensor y, NcsLayout layout, Tensor bias) {
        HostTensor out = host(y);
        HostTensor b = host(bias);
        float[][] f = floats(out, b);
        if (f == null) {
            CpuKit.forEachElementByChannel(layout, layout.numel(), (i, c) -> out.set(i, out.get(i) + b.get(c)));
            return;
        }
        int s = (int) layout.s();
        int c = (int) layout.c();
        int o = out.storageOffset();
        int bo = b.storageOffset();
        CpuKit.forEach((int) (layout.n() * c), layout.numel(), row -> {
            float v = f[1][bo + row % c];
            for (int i = o + row * s; i < o + (row + 1) * s; i++) {
                f[0][i] += v;
            }
        });
    }

    @Override
    public void biasGrad(Tensor dy, NcsLayout layout, Tensor grad) {
        HostTensor in = host(dy);
        HostTensor g = host(grad);
        float[] f = in.floatStorage();
        int channels = (int) layout.c();
        int s = (int) layout.s();
        double[] sum = new double[channels];
        if (f == null) {
            CpuKit.forEachElementByChannel(layout, 0, (i, c) -> sum[c] += in.get(i)); // work 0: sequential, in order
        } else {
            int o = in.storageOffset();
            CpuKit.forEach(channels, layout.numel(), c -> { // each channel's sum in (n, s) order
                double total = 0;
                for (int n = 0; n < layout.n(); n++) {
                    for (int i = o + (n * channels + c) * s; i < o + (n * channels + c + 1) * s; i++) {
                        total += f[i];
                    }
                }
                sum[c] = total;
            });
        }
        for (int c = 0; c < sum.length; c++) {
            g.set(c, g.get(c) + sum[c]);
        }
    }

    @Override
    public void relu(Tensor x, Tensor y) {
        HostTensor in = host(x);
        HostTensor out = host(y);
        int n = (int) x.numel();
        float[][] f = floats(in, out);
        if (f == null) {
            for (int i = 0; i < n; i++) {
                out.set(i, Math.max(in.get(i), 0));
            }
            return;
        }
        int a = in.storageOffset();
        int b = out.storageOffset();
        blocks(n, (from, to) -> {
            float[] xs = f[0];
            float[] ys = f[1];
            if (a == b) { // one index: a loop C2 vectorizes (see Float32Loops)
                for (int i = a + from; i < a + to; i++) {
                    ys[i] = Math.max(xs[i], 0f);
                }
                return;
            }
            for (int i = from; i < to; i++) {
                ys[b + i] = Math.max(xs[a + i], 0f);
            }
        });
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        HostTensor out = host(y);
        HostTensor g = host(dy);
        HostTensor d = host(dx);
        int n = (int) y.numel();
        float[][] f = floats(out, g, d);
        if (f == null) {
            for (int i = 0; i < n; i++) {
                d.set(i, out.get(i) <= 0 ? 0 : g.get(i)); // PyTorch's threshold_backward: NaN passes dy
            }
            return;
        }
        int yo = out.storageOffset();
        int go = g.storageOffset();
        int o = d.storageOffset();
        blocks(n, (from, to) -> {
            float[] ys = f[0];
            float[] gs = f[1];
            float[] ds = f[2];
            // without a branch (ReLU's outputs are unpredictable): y is +0 (bits 0: dx 0) or positive
            // or NaN (bits > 0: dx = dy), so (b | −b) >> 31 is the mask
            if (yo == go && go == o) { // one index: a loop C2 vectorizes (see Float32Loops)
                for (int i = o + from; i < o + to; i++) {
                    int bits = Float.floatToRawIntBits(ys[i]);
                    ds[i] = Float.intBitsToFloat(Float.floatToRawIntBits(gs[i]) & ((bits | -bits) >> 31));
                }
                return;
            }
            for (int i = from; i < to; i++) {
                int bits = Float.floatToRawIntBits(ys[yo + i]);
                ds[o + i] = Float.intBitsToFloat(Float.floatToRawIntBits(gs[go + i]) & ((bits | -bits) >> 31));
            }
        });
    }

    @Override
    public void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window) {
        HostTensor in = host(x);
        HostTensor out = host(y);
        HostTensor at = host(window);
        int oh = height / 2;
        int ow = width / 2;
        float[][] f = floats(in, out, at);
        if (f != null) {
            int xo = in.storageOffset();
            int yo = out.storageOffset();
            int wo = at.storageOffset();
            CpuKit.forEach((int) planes, planes * height * width, p -> {
                float[] xs = f[0];
                for (int i = 0; i < oh; i++) {
                    int top = xo + (p * height + 2 * i) * width;
                    int o = (p * oh + i) * ow;
                    for (int j = 0; j < ow; j++) {
                        float a = xs[top + 2 * j];
                        float b = xs[top + 2 * j + 1];
                        float c = xs[top + width + 2 * j];
                        float d = xs[top + width + 2 * j + 1];
                        // Math.max returns its first NaN, so max is the first NaN or the maximum; the
                        // window is the first of the four with max's bits, found without branches
                        // (branches on the comparisons, unpredictable after ReLU, ran ~3× slower). One
                        // difference from the float64 path's first-greater rule: of -0 and +0 this
                        // takes +0, and its window (ReLU outputs no -0)
                        float max = Math.max(Math.max(a, b), Math.max(c, d));
                        int m = Float.floatToRawIntBits(max);
                        int na = differs(Float.floatToRawIntBits(a), m);
                        int nb = differs(Float.floatToRawIntBits(b), m);
                        int nc = differs(Float.floatToRawIntBits(c), m);
                        f[1][yo + o + j] = max;
                        f[2][wo + o + j] = na + na * nb + na * nb * nc;
                    }
                }
            });
            return;
        }
        for (int p = 0; p < planes; p++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    int best = 0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int w = 0; w < 4; w++) {
                        double v = in.get((p * height + 2 * i + w / 2) * width + 2 * j + w % 2);
                        if (v > max || v != v) { // the first NaN wins, as in PyTorch
                            max = v;
                            best = w;
                            if (v != v) {
                                break;
                            }
                        }
                    }
                    int o = (p * oh + i) * ow + j;
                    out.set(o, max);
                    at.set(o, best);
                }
            }
        }
    }

    /** 1 where the bit patterns differ, 0 where they are the same, without a branch. */
    private static int differs(int a, int b) {
        int x = a ^ b;
        return (x | -x) >>> 31;
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx) {
        HostTensor g = host(dy);
        HostTensor at = host(window);
        HostTensor d = host(dx);
        int oh = height / 2;
        int ow = width / 2;
        float[][] f = floats(g, at, d);
        if (f != null) {
            if (height % 2 != 0 || width % 2 != 0) {
                d.fill(0); // the last row or column is in no window
            }
            int go = g.storageOffset();
            int wo = at.storageOffset();
            int o = d.storageOffset();
            CpuKit.forEach((int) planes, planes * height * width, p -> {
                float[] gs = f[0];
                float[] ws = f[1];
                float[] ds = f[2];
                for (int i = 0; i < oh; i++) {
                    int q = go + (p * oh + i) * ow;
                    int v = wo + (p * oh + i) * ow;
                    int top = o + (p * height + 2 * i) * width;
                    // the two rows of windows +0, then dy stored where each window's maximum was
                    java.util.Arrays.fill(ds, top, top + 2 * width, 0f);
                    for (int j = 0; j < ow; j++) {
                        int w = (int) ws[v + j];
                        ds[top + (w >> 1) * width + 2 * j + (w & 1)] = gs[q + j];
                    }
                }
            });
            return;
        }
        d.fill(0);
        for (int p = 0; p < planes; p++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    int o = (p * oh + i) * ow + j;
                    int w = (int) at.get(o);
                    d.set((p * height + 2 * i + w / 2) * width + 2 * j + w % 2, g.get(o));
                }
            }
        }
    }

    @Override
    public void averagePool(Tensor x, NcsLayout layout, Tensor y) {
        HostTensor in = host(x);
        HostTensor out = host(y);
        int s = (int) layout.s();
        for (int row = 0; row < layout.n() * layout.c(); row++) {
            double sum = 0;
            for (int i = row * s; i < (row + 1) * s; i++) {
                sum += in.get(i);
            }
            out.set(row, sum / s);
        }
    }

    @Override
    public void averagePoolBackward(Tensor dy, NcsLayout layout, Tensor dx) {
        HostTensor g = host(dy);
        HostTensor d = host(dx);
        int s = (int) layout.s();
        for (int row = 0; row < layout.n() * layout.c(); row++) {
            double v = g.get(row) / s;
            for (int i = row * s; i < (row + 1) * s; i++) {
                d.set(i, v);
            }
        }
    }

    @Override
    public double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits) {
        HostTensor z = host(logits);
        HostTensor y = host(labels);
        HostTensor d = host(dlogits);
        int batch = (int) logits.shape().dim(0);
        int classes = (int) logits.shape().dim(1);
        double loss = 0;
        double[] e = new double[classes];
        for (int b = 0; b < batch; b++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                max = Math.max(max, z.get(b * classes + k));
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) {
                e[k] = Math.exp(z.get(b * classes + k) - max);
                sum += e[k];
            }
            int label = (int) y.get(b);
            loss += Math.log(sum) + max - z.get(b * classes + label);
            for (int k = 0; k < classes; k++) {
                d.set(b * classes + k, (e[k] / sum - (k == label ? 1 : 0)) / batch);
            }
        }
        return loss / batch;
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        HostTensor p = host(param);
        HostTensor g = host(grad);
        HostTensor v = host(velocity);
        int n = (int) param.numel();
        for (int i = 0; i < n; i++) {
            double d = g.get(i) + weightDecay * p.get(i);
            double vi = momentum * v.get(i) + d;
            v.set(i, vi);
            p.set(i, p.get(i) - lr * vi);
        }
    }

    @Override
    public void clamp(Tensor t, float lo, float hi) {
        HostTensor h = host(t);
        int n = (int) t.numel();
        for (int i = 0; i < n; i++) {
            double v = h.get(i);
            h.set(i, v < lo ? lo : v > hi ? hi : v);
        }
    }
}
