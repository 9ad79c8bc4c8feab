package dev.jnorm.backend.cpu.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import java.util.LinkedHashMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The CPU training stack's float32 loops (on the arrays, in parallel blocks) and its GEMM against
 * its float64 path on the same values: moves of values (ReLU, max pooling and its window,
 * their backward) bit for bit, sums (bias, its gradient) within float32's rounding; on views at an
 * offset into larger tensors, with a NaN and a negative zero where ReLU and max pooling must treat
 * them as PyTorch does; and on tensors of their own (each loop's one-index form) bit for bit as on
 * the views. The shapes are large enough (2·24·40·38 values) that the loops run in several blocks.
 */
class Float32NetworkTest {
    private static final Backend CPU = Backend.cpu();
    private static final NcsLayout L = new NcsLayout(2, 24, 40 * 38);

    @Test
    void float32LoopsMatchTheFloat64Path() {
        int n = (int) L.numel();
        double[] x = TestData.randn(1, n);
        x[17] = Double.NaN;
        x[40] = -0.0;
        // max pooling's first windows (rows 0 and 1 of plane 0, width 38): a tie (the first wins), a
        // NaN after larger values (the NaN wins), all -inf, +inf with -inf
        double inf = Double.POSITIVE_INFINITY;
        double[][] windows = {{0.0, 2, 2, -1}, {5, 1, -0.0, Double.NaN}, {-inf, -inf, -inf, -inf}, {inf, -inf, 1, 2}};
        for (int j = 0; j < windows.length; j++) {
            x[2 * j] = windows[j][0];
            x[2 * j + 1] = windows[j][1];
            x[38 + 2 * j] = windows[j][2];
            x[38 + 2 * j + 1] = windows[j][3];
        }
        double[] dy = TestData.randn(2, n);
        double[] pooled = TestData.randn(3, n / 4);
        double[] bias = TestData.randn(4, (int) L.c());
        for (int i = 0; i < n; i++) { // float32 values, exactly the same in both
            x[i] = (float) x[i];
            dy[i] = (float) dy[i];
        }
        Map<String, double[]> exact = run(DType.FLOAT64, true, x, dy, pooled, bias);
        Map<String, double[]> fast = run(DType.FLOAT32, true, x, dy, pooled, bias);
        Map<String, double[]> own = run(DType.FLOAT32, false, x, dy, pooled, bias);
        fast.forEach((op, values) -> assertArrayEquals(values, own.get(op), op + " on tensors of its own"));
        for (String moved : List.of("relu", "relu backward", "max pool", "max pool window", "max pool backward")) {
            double[] e = exact.get(moved);
            double[] f = fast.get(moved);
            for (int i = 0; i < e.length; i++) { // round to float32: the float64 path's values are float32's
                e[i] = (float) e[i];
            }
            assertArrayEquals(e, f, moved);
        }
        assertTrue(Double.isNaN(fast.get("relu")[17]), "ReLU of NaN is NaN, as in PyTorch");
        assertEquals((float) dy[17], fast.get("relu backward")[17], "a NaN output passes dy, as PyTorch's "
                + "threshold_backward does");
        assertEquals(0x0L, Double.doubleToRawLongBits(fast.get("relu")[40]), "ReLU of -0 is +0");
        assertArrayEquals(new double[] {1, 3, 0, 0}, Arrays.copyOf(fast.get("max pool window"), 4), "the windows");
        Close.assertClose(exact.get("add bias"), fast.get("add bias"), 1e-6, 1e-6, "add bias");
        Close.assertClose(exact.get("bias grad"), fast.get("bias grad"), 1e-4, 1e-6, "bias grad");
    }

    /** Max pooling over planes of odd height and width (a last row and column in no window) with a stale dx. */
    @Test
    void maxPoolingOddPlanesMatchesTheFloat64Path() {
        double[] x = TestData.randn(8, 2 * 3 * 5 * 7);
        double[] dy = TestData.randn(9, 2 * 3 * 2 * 3);
        double[][] got = new double[2][];
        int k = 0;
        for (DType t : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
            try (Tensor xt = TestData.tensor(CPU, t, x, 2, 3, 5, 7);
                 Tensor dyt = TestData.tensor(CPU, t, dy, 2, 3, 2, 3);
                 Tensor y = CPU.allocate(dyt.shape(), t);
                 Tensor w = CPU.allocate(dyt.shape(), t);
                 Tensor dx = CPU.allocate(xt.shape(), t)) {
                CPU.fill(dx, 7); // whatever dx held before is overwritten
                CPU.network().maxPool(xt, 6, 5, 7, y, w);
                CPU.network().maxPoolBackward(dyt, w, 6, 5, 7, dx);
                got[k++] = dx.toDoubleArray();
            }
        }
        for (int i = 0; i < got[0].length; i++) {
            got[0][i] = (float) got[0][i];
        }
        assertArrayEquals(got[0], got[1]);
    }

    /**
     * Convolutions of a batch of 16 images, forward and backward, in float32 (OpenBLAS's sgemm, the
     * images' GEMMs from several threads into one batch) against float64, five times over: a GEMM
     * that wrote back more than its own image would lose other threads' images.
     */
    @Test
    void batchedConvolutionsMatchFloat64OnEveryRun() {
        ConvGeometry g = new ConvGeometry(16, 8, 12, 14, 14, 3);
        double[] x = TestData.randn(5, g.n() * g.in() * g.plane());
        double[] w = TestData.randn(6, g.out() * g.patch());
        double[] dy = TestData.randn(7, g.n() * g.out() * g.plane());
        for (double[] v : List.of(x, w, dy)) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) v[i];
            }
        }
        Map<String, double[]> exact = conv(DType.FLOAT64, g, x, w, dy);
        for (int run = 0; run < 5; run++) {
            Map<String, double[]> fast = conv(DType.FLOAT32, g, x, w, dy);
            for (String k : exact.keySet()) {
                Close.assertClose(exact.get(k), fast.get(k), 1e-4, 1e-4, k + ", run " + run);
            }
        }
    }

    private static Map<String, double[]> conv(DType t, ConvGeometry g, double[] x, double[] w, double[] dy) {
        Map<String, double[]> out = new LinkedHashMap<>();
        try (Tensor xt = TestData.tensor(CPU, t, x, g.n(), g.in(), g.height(), g.width());
             Tensor wt = TestData.tensor(CPU, t, w, g.out(), g.in(), g.kernel(), g.kernel());
             Tensor dyt = TestData.tensor(CPU, t, dy, g.n(), g.out(), g.height(), g.width());
             Tensor y = CPU.allocate(dyt.shape(), t);
             Tensor dx = CPU.allocate(xt.shape(), t);
             Tensor dw = CPU.allocate(wt.shape(), t)) {
            CPU.network().convForward(xt, wt, null, y, g);
            CPU.network().convBackward(xt, wt, dyt, dx, dw, null, g);
            out.put("y", y.toDoubleArray());
            out.put("dx", dx.toDoubleArray());
            out.put("dw", dw.toDoubleArray());
        }
        return out;
    }

    /** The operations on views at offsets into one larger tensor ({@code views}) or on tensors of their own. */
    private static Map<String, double[]> run(DType t, boolean views, double[] x, double[] dy, double[] pooled,
                                             double[] bias) {
        NetworkOps ops = CPU.network();
        Map<String, double[]> out = new LinkedHashMap<>();
        Shape s = Shape.of(L.n(), L.c(), 40, 38);
        Shape half = Shape.of(L.n(), L.c(), 20, 19);
        long planes = L.n() * L.c();
        List<Tensor> owned = new java.util.ArrayList<>();
        try (Tensor big = CPU.allocate(Shape.of(8 * L.numel()), t)) {
            long[] at = {3};
            java.util.function.Function<Shape, Tensor> view = shape -> {
                if (!views) {
                    owned.add(CPU.allocate(shape, t));
                    return owned.get(owned.size() - 1);
                }
                Tensor v = big.view(at[0], shape);
                at[0] += shape.numel() + 5;
                return v;
            };
            Tensor xt = view.apply(s);
            Tensor dyt = view.apply(s);
            Tensor dp = view.apply(half);
            xt.copyFrom(x);
            dyt.copyFrom(dy);
            dp.copyFrom(pooled);
            Tensor r = view.apply(s);
            ops.relu(xt, r);
            out.put("relu", r.toDoubleArray());
            Tensor rb = view.apply(s);
            ops.reluBackward(r, dyt, rb);
            out.put("relu backward", rb.toDoubleArray());
            Tensor mp = view.apply(half);
            Tensor w = view.apply(half);
            ops.maxPool(xt, planes, 40, 38, mp, w);
            out.put("max pool", mp.toDoubleArray());
            out.put("max pool window", w.toDoubleArray());
            Tensor mb = view.apply(s);
            ops.maxPoolBackward(dp, w, planes, 40, 38, mb);
            out.put("max pool backward", mb.toDoubleArray());
            try (Tensor b = TestData.tensor(CPU, t, bias, L.c()); Tensor g = CPU.allocate(Shape.of(L.c()), t)) {
                ops.addBias(xt, L, b);
                out.put("add bias", xt.toDoubleArray());
                ops.biasGrad(dyt, L, g);
                ops.biasGrad(dyt, L, g); // accumulates
                out.put("bias grad", g.toDoubleArray());
            }
        } finally {
            owned.forEach(Tensor::close);
        }
        return out;
    }
}
