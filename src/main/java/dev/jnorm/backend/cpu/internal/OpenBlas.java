package dev.jnorm.backend.cpu.internal;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import dev.jnorm.backend.ConvGeometry;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * GEMM and float32 convolution on OpenBLAS (JavaCPP's preset, whose jar brings the library): the
 * one class that names OpenBLAS, loaded on its first use, and only then.
 *
 * <p>JavaCPP hands a Java array to C as a copy of the whole array, written back whole after the
 * call: every operand twice, and a view into a larger tensor (an image of a batch that other threads
 * write) would first need an array of its own. Float32 operands are instead copied once into this
 * thread's native buffers, the inputs in and C out; a convolution keeps the weight and dW there
 * for all its images.
 */
final class OpenBlas {
    private OpenBlas() {
    }

    static boolean loads() {
        try {
            org.bytedeco.javacpp.Loader.load(openblas_nolapack.class);
            // one thread per call: the convolutions already run their images' GEMMs on all cores
            org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(1);
            return true;
        } catch (LinkageError | RuntimeException e) { // no library for this platform
            return false;
        }
    }

    /** Row-major C = alpha·op(A)·op(B) + beta·C. */
    static void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, HostTensor a,
                     HostTensor b, float beta, HostTensor c) {
        int opA = transposeA ? CblasTrans : CblasNoTrans;
        int opB = transposeB ? CblasTrans : CblasNoTrans;
        int lda = transposeA ? m : k;
        int ldb = transposeB ? k : n;
        if (c.floatStorage() != null) {
            Scratch s = SCRATCH.get();
            FloatPointer pa = s.put(A, a, m * k);
            FloatPointer pb = s.put(B, b, k * n);
            FloatPointer pc = beta != 0 ? s.put(C, c, m * n) : s.buffer(C, m * n);
            cblas_sgemm(CblasRowMajor, opA, opB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
            pc.get(c.floatStorage(), c.storageOffset(), m * n);
        } else {
            double[] out = whole(c) ? c.doubleStorage() : c.toDoubleArray();
            cblas_dgemm(CblasRowMajor, opA, opB, m, n, k, alpha, doubles(a), lda, doubles(b), ldb, beta, out, n);
            if (out != c.doubleStorage()) {
                c.copyFrom(out);
            }
        }
    }

    /**
     * Images [from, to) of a float32 convolution: per image its columns ({@link ConvRuns#im2col}, in
     * the chunk's buffer {@code columns}) copied into native memory, then y = W·cols.
     */
    static void convForward(HostTensor x, HostTensor weight, HostTensor y, HostTensor columns, ConvGeometry g,
                            int from, int to) {
        Scratch s = SCRATCH.get();
        int out = g.out();
        int patch = g.patch();
        int plane = g.plane();
        FloatPointer w = s.put(A, weight, out * patch);
        FloatPointer cols = s.buffer(B, (long) patch * plane);
        FloatPointer product = s.buffer(C, (long) out * plane);
        for (int n = from; n < to; n++) {
            ConvRuns.im2col(x, n * g.in() * plane, g, columns);
            cols.put(columns.floatStorage(), columns.storageOffset(), patch * plane);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, plane, patch, 1, w, patch, cols, plane, 0,
                    product, plane);
            product.get(y.floatStorage(), y.storageOffset() + n * out * plane, out * plane);
        }
    }

    /**
     * Images [from, to) of a float32 convolution's backward, {@code columns} the chunk's buffer: per
     * image {@code dWᵀ += cols·dyᵀ} (dWᵀ kept in native memory over the images, then transposed into
     * {@code dw}, which starts at zero; OpenBLAS takes this form ~20 % faster than
     * {@code dW += dy·colsᵀ} at the study's sizes) and {@code dx = col2im(Wᵀ·dy)}.
     */
    static void convBackward(HostTensor x, HostTensor weight, HostTensor dy, HostTensor dx, HostTensor dw,
                             HostTensor columns, ConvGeometry g, int from, int to) {
        Scratch s = SCRATCH.get();
        int out = g.out();
        int patch = g.patch();
        int plane = g.plane();
        int pixels = g.in() * plane;
        FloatPointer w = s.put(A, weight, out * patch);
        FloatPointer cols = s.buffer(B, (long) patch * plane);
        FloatPointer gradient = s.buffer(C, (long) out * plane);
        FloatPointer dWt = s.buffer(D, (long) patch * out);
        dWt.fill(0);
        float[] image = s.image(pixels);
        float[] run = s.run(pixels);
        for (int n = from; n < to; n++) {
            ConvRuns.im2col(x, n * pixels, g, columns);
            cols.put(columns.floatStorage(), columns.storageOffset(), patch * plane);
            gradient.put(dy.floatStorage(), dy.storageOffset() + n * out * plane, out * plane);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, patch, out, plane, 1, cols, plane, gradient, plane,
                    1, dWt, out);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, patch, plane, out, 1, w, patch, gradient, plane, 0,
                    cols, plane);
            cols.get(columns.floatStorage(), columns.storageOffset(), patch * plane);
            col2im(columns, g, dx.floatStorage(), dx.storageOffset() + n * pixels, image, run);
        }
        float[] transposed = s.transposed(patch * out);
        dWt.get(transposed, 0, patch * out);
        float[] d = dw.floatStorage();
        for (int o = 0; o < out; o++) {
            for (int p = 0; p < patch; p++) {
                d[dw.storageOffset() + o * patch + p] = transposed[p * out + o];
            }
        }
    }

    /**
     * The adjoint of im2col into the image at {@code dx[at]}: each row's padding entries zeroed in the
     * columns, its run copied into {@code run} at the pixels it adds onto and added there into
     * {@code image} with one index (a loop C2 vectorizes, see Float32Loops; {@code HostTensor.addRange}
     * adds at two offsets and stays scalar), the rows in the order the float64 path adds them; then
     * the image copied to dx.
     */
    private static void col2im(HostTensor columns, ConvGeometry g, float[] dx, int at, float[] image, float[] run) {
        float[] cols = columns.floatStorage();
        int base = columns.storageOffset();
        int pixels = g.in() * g.plane();
        Arrays.fill(image, 0, pixels, 0f);
        ConvRuns.forEachRow(g, (row, lo, hi, source, dj) -> {
            if (hi <= lo) {
                return;
            }
            ConvRuns.zeroWrapped(cols, base + row, lo, hi, g.width(), dj);
            System.arraycopy(cols, base + row + lo, run, source, hi - lo);
            for (int i = source; i < source + hi - lo; i++) {
                image[i] += run[i];
            }
        });
        System.arraycopy(image, 0, dx, at, pixels);
    }

    private static final int A = 0;
    private static final int B = 1;
    private static final int C = 2;
    private static final int D = 3;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** A thread's native buffers (A, B, C and D), and arrays for dWᵀ and one image's col2im, grown as calls need. */
    private static final class Scratch {
        private final FloatPointer[] buffers = new FloatPointer[4];
        private float[] transposed = new float[0];
        private float[] image = new float[0];
        private float[] run = new float[0];

        FloatPointer buffer(int which, long length) {
            if (buffers[which] == null || buffers[which].capacity() < length) {
                if (buffers[which] != null) {
                    buffers[which].close();
                }
                buffers[which] = new FloatPointer(Math.max(length, 1 << 12));
            }
            return buffers[which];
        }

        /** Buffer {@code which} holding {@code t}'s {@code length} values. */
        FloatPointer put(int which, HostTensor t, long length) {
            FloatPointer p = buffer(which, length);
            p.put(t.floatStorage(), t.storageOffset(), (int) length);
            return p;
        }

        float[] transposed(int length) {
            return transposed.length >= length ? transposed : (transposed = new float[length]);
        }

        float[] image(int length) {
            return image.length >= length ? image : (image = new float[length]);
        }

        float[] run(int length) {
            return run.length >= length ? run : (run = new float[length]);
        }
    }

    /** Whether {@code t} is its whole storage. */
    private static boolean whole(HostTensor t) {
        return t.storageOffset() == 0 && t.doubleStorage().length == t.numel();
    }

    private static double[] doubles(HostTensor t) {
        return whole(t) ? t.doubleStorage() : t.toDoubleArray();
    }
}
