package dev.jnorm.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The training stack with 16-bit activations on the emulated GPU (mixed precision: parameters, their
 * gradients and the loss in float32). Each operation is the float64 operation on the same rounded
 * inputs (a float32 weight rounded to the activations' type, as autocast casts it): moves of values
 * (ReLU, max pooling) bit for bit, fp32 sums rounded once to within half a 16-bit unit in the last
 * place, float32 results (parameter gradients, the loss) to fp32 accuracy. A training step of a
 * small network then follows float64's within what 16-bit activations allow.
 */
class SixteenBitNetworkTest {
    private static final Backend CPU = new CpuBackend();

    private static CudaBackend emulated() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        return new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
    }

    /** Normal values times {@code scale}, rounded to {@code dtype}. */
    private static double[] values(DType dtype, long seed, int n, double scale) {
        double[] v = TestData.randn(seed, n);
        for (int i = 0; i < v.length; i++) {
            v[i] = dtype.round(scale * v[i]);
        }
        return v;
    }

    /** Within half a unit in the last place of {@code dtype} of the float64 result, and fp32's error. */
    private static void roundedOnce(DType dtype, Tensor expected, Tensor actual, String what) {
        assertEquals(dtype, actual.dtype(), what + ": dtype");
        Close.assertClose(expected.toDoubleArray(), actual.toDoubleArray(), 1e-5, dtype.machineEpsilon() / 2, what);
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT16", "BFLOAT16"})
    void gemmAccumulatesInFp32AndRoundsOnce(DType t) {
        try (CudaBackend gpu = emulated()) {
            int m = 5;
            int n = 7;
            int k = 19;
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    String what = "gemm " + (ta ? "T" : "N") + (tb ? "T" : "N") + " " + t;
                    double[] a = values(t, 1, m * k, 1);
                    double[] b = values(t, 2, k * n, 1);
                    double[] c = values(DType.FLOAT32, 3, m * n, 1);
                    double[] weight = TestData.randn(4, m * k); // float32 parameter, not representable in t
                    double[] rounded = weight.clone();
                    for (int i = 0; i < rounded.length; i++) {
                        rounded[i] = t.round((float) rounded[i]);
                    }
                    // 16-bit A and B into a float32 C with beta; a float32 weight times 16-bit B into a 16-bit C
                    try (Tensor ref = gemm(CPU, DType.FLOAT64, DType.FLOAT64, DType.FLOAT64, ta, tb, m, n, k, a, b, c, 0.5f);
                         Tensor got = gemm(gpu, t, t, DType.FLOAT32, ta, tb, m, n, k, a, b, c, 0.5f);
                         Tensor ref16 = gemm(CPU, DType.FLOAT64, DType.FLOAT64, DType.FLOAT64, ta, tb, m, n, k, rounded, b,
                                 c, 0f);
                         Tensor got16 = gemm(gpu, DType.FLOAT32, t, t, ta, tb, m, n, k, weight, b, c, 0f)) {
                        Close.assertClose(ref.toDoubleArray(), got.toDoubleArray(), 1e-5, 1e-6, what + " into float32");
                        roundedOnce(t, ref16, got16, what + ", a float32 weight, into " + t);
                    }
                }
            }
        }
    }

    private static Tensor gemm(Backend b, DType ta, DType tb, DType tc, boolean transA, boolean transB, int m, int n,
                               int k, double[] a, double[] bv, double[] c, float beta) {
        try (Tensor at = TestData.tensor(b, ta, a, a.length); Tensor bt = TestData.tensor(b, tb, bv, bv.length)) {
            Tensor ct = TestData.tensor(b, tc, c, c.length);
            b.network().gemm(transA, transB, m, n, k, 1.5f, at, bt, beta, ct);
            return ct;
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT16", "BFLOAT16"})
    void convolutionForwardAndBackward(DType t) {
        ConvGeometry g = new ConvGeometry(2, 3, 4, 5, 7, 3);
        Shape in = Shape.of(g.n(), g.in(), g.height(), g.width());
        Shape out = Shape.of(g.n(), g.out(), g.height(), g.width());
        double[] x = values(t, 5, (int) in.numel(), 1);
        double[] dy = values(t, 6, (int) out.numel(), 1);
        double[] weight = TestData.randn(7, g.out() * g.patch());
        double[] bias = TestData.randn(8, g.out());
        try (CudaBackend gpu = emulated()) {
            Map<String, Tensor> ref = conv(CPU, DType.FLOAT64, g, x, dy, rounded(weight, t), bias);
            Map<String, Tensor> got = conv(gpu, t, g, x, dy, weight, bias);
            roundedOnce(t, ref.get("y"), got.get("y"), "conv y " + t);
            roundedOnce(t, ref.get("dx"), got.get("dx"), "conv dx " + t);
            Close.assertClose(ref.get("grad weight"), got.get("grad weight"), 1e-5, 1e-5, "conv grad weight " + t);
            Close.assertClose(ref.get("grad bias"), got.get("grad bias"), 1e-5, 1e-5, "conv grad bias " + t);
            ref.values().forEach(Tensor::close);
            got.values().forEach(Tensor::close);
        }
    }

    /** float32 values rounded to {@code t}, as the GEMM's operand sees a float32 weight. */
    private static double[] rounded(double[] v, DType t) {
        double[] r = v.clone();
        for (int i = 0; i < r.length; i++) {
            r[i] = t.round((float) r[i]);
        }
        return r;
    }

    private static Map<String, Tensor> conv(Backend b, DType t, ConvGeometry g, double[] x, double[] dy,
                                            double[] weight, double[] bias) {
        DType p = t.parameterType();
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Tensor xt = TestData.tensor(b, t, x, g.n(), g.in(), g.height(), g.width());
             Tensor dyt = TestData.tensor(b, t, dy, g.n(), g.out(), g.height(), g.width());
             Tensor w = TestData.tensor(b, p, weight, g.out(), g.in(), g.kernel(), g.kernel());
             Tensor bt = TestData.tensor(b, p, bias, g.out())) {
            out.put("y", b.empty(dyt.shape(), t));
            out.put("dx", b.empty(xt.shape(), t));
            out.put("grad weight", b.allocate(w.shape(), p));
            out.put("grad bias", b.allocate(bt.shape(), p));
            b.network().convForward(xt, w, bt, out.get("y"), g);
            b.network().convBackward(xt, w, dyt, out.get("dx"), out.get("grad weight"), out.get("grad bias"), g);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT16", "BFLOAT16"})
    void elementwiseAndPoolingOperations(DType t) {
        NcsLayout l = new NcsLayout(2, 3, 30);
        int n = (int) (l.n() * l.c() * l.s());
        double[] x = values(t, 9, n, 2);
        x[3] = 0; // ReLU's boundary
        x[4] = Double.NaN; // ReLU keeps it, its backward passes dy there (PyTorch's threshold_backward)
        double[] dy = values(t, 10, n, 1);
        double[] pooled = values(t, 11, (int) (l.n() * l.c() * 6), 1); // [2, 3] windows of a 5 x 6 plane
        double[] perRow = values(t, 12, (int) (l.n() * l.c()), 1);
        double[] bias = TestData.randn(13, (int) l.c());
        try (CudaBackend gpu = emulated()) {
            Map<String, Tensor> ref = elementwise(CPU, DType.FLOAT64, l, x, dy, pooled, perRow, bias);
            Map<String, Tensor> got = elementwise(gpu, t, l, x, dy, pooled, perRow, bias);
            for (String exact : List.of("relu", "relu backward", "max pool", "max pool window", "max pool backward")) {
                assertEquals(t, got.get(exact).dtype(), exact);
                assertArrayEquals(ref.get(exact).toDoubleArray(), got.get(exact).toDoubleArray(), exact + " " + t);
            }
            for (String once : List.of("add bias", "average pool", "average pool backward")) {
                roundedOnce(t, ref.get(once), got.get(once), once + " " + t);
            }
            Close.assertClose(ref.get("bias grad"), got.get("bias grad"), 1e-5, 1e-6, "bias grad " + t);
            ref.values().forEach(Tensor::close);
            got.values().forEach(Tensor::close);
        }
    }

    private static Map<String, Tensor> elementwise(Backend b, DType t, NcsLayout l, double[] x, double[] dy,
                                                   double[] pooled, double[] perRow, double[] bias) {
        NetworkOps ops = b.network();
        Map<String, Tensor> out = new LinkedHashMap<>();
        BiFunction<String, Shape, Tensor> make = (name, shape) -> {
            Tensor r = b.allocate(shape, t);
            out.put(name, r);
            return r;
        };
        Shape s = Shape.of(l.n(), l.c(), 5, 6);
        Shape half = Shape.of(l.n(), l.c(), 2, 3);
        try (Tensor xt = TestData.tensor(b, t, x, s.dims());
             Tensor dyt = TestData.tensor(b, t, dy, s.dims());
             Tensor dpool = TestData.tensor(b, t, pooled, half.dims());
             Tensor rows = TestData.tensor(b, t, perRow, l.n(), l.c());
             Tensor bt = TestData.tensor(b, t.parameterType(), bias, l.c())) {
            ops.relu(xt, make.apply("relu", s));
            ops.reluBackward(out.get("relu"), dyt, make.apply("relu backward", s));
            ops.maxPool(xt, l.n() * l.c(), 5, 6, make.apply("max pool", half), make.apply("max pool window", half));
            ops.maxPoolBackward(dpool, out.get("max pool window"), l.n() * l.c(), 5, 6,
                    make.apply("max pool backward", s));
            Tensor biased = make.apply("add bias", s);
            b.copy(xt, biased);
            ops.addBias(biased, l, bt);
            ops.averagePool(xt, l, make.apply("average pool", Shape.of(l.n(), l.c())));
            ops.averagePoolBackward(rows, l, make.apply("average pool backward", s));
            Tensor grad = b.allocate(Shape.of(l.c()), t.parameterType());
            out.put("bias grad", grad);
            ops.biasGrad(dyt, l, grad);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(names = {"FLOAT16", "BFLOAT16"})
    void softmaxCrossEntropyLossInFp32(DType t) {
        double[] logits = values(t, 14, 4 * 10, 3);
        double[] labels = {3, 0, 9, 3};
        try (CudaBackend gpu = emulated();
             Tensor zr = TestData.tensor(CPU, DType.FLOAT64, logits, 4, 10);
             Tensor yr = TestData.tensor(CPU, DType.FLOAT64, labels, 4);
             Tensor dr = CPU.allocate(zr.shape(), DType.FLOAT64);
             Tensor z = TestData.tensor(gpu, t, logits, 4, 10);
             Tensor y = TestData.tensor(gpu, t, labels, 4); // class indices in the logits' dtype, as the CPU takes them
             Tensor d = gpu.allocate(z.shape(), t)) {
            double expected = CPU.network().softmaxCrossEntropy(zr, yr, dr);
            double loss = gpu.network().softmaxCrossEntropy(z, y, d);
            assertEquals(expected, loss, 1e-6 * Math.abs(expected), "loss " + t);
            roundedOnce(t, dr, d, "dlogits " + t);
        }
    }
}
