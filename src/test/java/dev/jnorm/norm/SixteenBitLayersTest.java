package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.TestData;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every norm with float16 and bfloat16 storage on the CPU: inputs, outputs and input gradients in the
 * 16-bit type, parameters, statistics and their gradients in float32. The forward is the float64
 * computation on the same rounded inputs, rounded once: bit for bit. The backward reads the float32
 * statistics the forward saved, so its input gradient is held to DESIGN's 16-bit tolerance. (eps is set:
 * RMSNorm's default is the input dtype's machine epsilon, as PyTorch's.)
 */
class SixteenBitLayersTest {
    private static final Backend CPU = new CpuBackend();
    private static final Shape SHAPE = Shape.of(3, 4, 5, 6);

    static Stream<Arguments> cases() {
        return Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> java.util.Arrays.stream(NormKind.values())
                .filter(s -> !s.reparameterizes()).map(s -> Arguments.of(s.commandName(), t)));
    }

    private static NormLayer<?> layer(String norm, DType dtype) {
        return layer(CPU, norm, dtype);
    }

    private static NormLayer<?> layer(Backend backend, String norm, DType dtype) {
        NormLayer<?> layer = NormRegistry.named(norm).build(backend, SHAPE, NormConfig.defaults().groups(2).eps(1e-5),
                dtype);
        TestData.float32Parameters(layer); // the same in both layers
        return layer;
    }

    /** Random values for {@link #SHAPE}, scaled and shifted, rounded to {@code dtype}. */
    private static double[] data(DType dtype, long seed, double scale, double shift) {
        double[] v = TestData.randn(seed, (int) SHAPE.numel());
        for (int i = 0; i < v.length; i++) {
            v[i] = dtype.round(scale * v[i] + shift);
        }
        return v;
    }

    /** The float16 output of GroupNorm(2, 4) on x with weight w, and the float64 one on the same values. */
    private static double[][] groupNorm(double[] x, double w) {
        try (GroupNorm half = GroupNorm.builder(2, 4).dtype(DType.FLOAT16).build(CPU);
             GroupNorm exact = GroupNorm.builder(2, 4).dtype(DType.FLOAT64).build(CPU);
             Tensor xh = TestData.tensor(CPU, DType.FLOAT16, x, 2, 4, 8);
             Tensor xd = TestData.tensor(CPU, DType.FLOAT64, x, 2, 4, 8)) {
            CPU.fill(half.weight().value(), w);
            CPU.fill(exact.weight().value(), w);
            try (Tensor yh = half.forward(xh); Tensor yd = exact.forward(xd)) {
                assertTrue(Arrays.stream(half.lastForward().rstd().toDoubleArray()).allMatch(Double::isFinite),
                        "float32 statistics stay finite");
                return new double[][] {yh.toDoubleArray(), yd.toDoubleArray()};
            }
        }
    }

    @Test
    void weightNormKeepsASixteenBitWeightAsFloat32MasterWeights() {
        double[] values = TestData.randn(4, 12);
        for (int i = 0; i < values.length; i++) {
            values[i] = DType.FLOAT16.round(values[i]);
        }
        try (Tensor weight = TestData.tensor(CPU, DType.FLOAT16, values, 4, 3);
             WeightNorm wn = WeightNorm.builder().dim(0).build(weight);
             Tensor w = wn.forward();
             Tensor dw = TestData.tensor(CPU, DType.FLOAT32, TestData.randn(5, 12), 4, 3)) {
            assertEquals(DType.FLOAT32, wn.v().value().dtype());
            assertEquals(DType.FLOAT32, w.dtype());
            Close.assertClose(values, w.toDoubleArray(), 1e-6, 1e-6, "w starts as the weight given");
            wn.backward(dw);
            assertEquals(DType.FLOAT32, wn.v().grad().dtype());
        }
    }

    @Test
    void theCasesSixteenBitDataBreakComeOutAsTheRoundedFloat64Result() {
        double[] x = TestData.randn(3, 64);
        double[] near = new double[64]; // values near float16's largest: their variance (~1e9) is not a float16
        double[] offset = new double[64]; // a mean of 1000, where float16's ulp is 0.5
        for (int i = 0; i < 64; i++) {
            near[i] = DType.FLOAT16.round(30000 * x[i]);
            offset[i] = DType.FLOAT16.round(1000 + 4 * x[i]);
            x[i] = DType.FLOAT16.round(x[i]);
        }
        double[][] saturated = groupNorm(x, 1e5); // float32 weight: outputs past 65504
        for (double[][] r : List.of(groupNorm(near, 1), groupNorm(offset, 1), saturated)) {
            for (int i = 0; i < r[1].length; i++) {
                assertEquals(DType.FLOAT16.round(r[1][i]), r[0][i], "y[" + i + "]");
            }
        }
        assertTrue(Arrays.stream(saturated[0]).anyMatch(Double::isInfinite), "the output saturates to infinity");
        assertTrue(Arrays.stream(saturated[0]).noneMatch(Double::isNaN), "and never to NaN");
    }

    /**
     * On the emulated GPU, 16-bit layers (16-bit data, float32 parameters and statistics) match the
     * float64 reference on the same rounded inputs within the design's 16-bit tolerances, forward and
     * backward, every norm; and GroupNorm's 16-bit output saturates to infinity, never NaN, while its
     * float32 statistics stay finite.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void onTheEmulatedGpuWithinTheSixteenBitTolerances(String norm, DType dtype) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             NormLayer<?> half = layer(cuda, norm, dtype);
             NormLayer<?> exact = layer(norm, DType.FLOAT64)) {
            matchesTheFloat64Layer(half, exact, SHAPE, dtype, data(dtype, 1, 3, 2), data(dtype, 2, 1, 0));
        }
    }

    /**
     * The 16-bit layer's output and input gradient (16-bit), and its parameters' gradients (float32),
     * against the float64 layer's on the same rounded x and dy, within the 16-bit tolerances.
     */
    private static void matchesTheFloat64Layer(NormLayer<?> half, NormLayer<?> exact, Shape shape, DType dtype,
                                               double[] x, double[] dy) {
        double atol = dtype == DType.FLOAT16 ? 1e-3 : 1e-2;
        double rtol = dtype == DType.FLOAT16 ? 1e-3 : 1.6e-2;
        String what = half.getClass().getSimpleName() + " " + shape + " " + dtype;
        try (Tensor xh = TestData.tensor(half.backend(), dtype, x, shape.dims());
             Tensor xd = TestData.tensor(CPU, DType.FLOAT64, x, shape.dims());
             Tensor dyh = TestData.tensor(half.backend(), dtype, dy, shape.dims());
             Tensor dyd = TestData.tensor(CPU, DType.FLOAT64, dy, shape.dims());
             Tensor yh = half.forward(xh);
             Tensor yd = exact.forward(xd);
             Tensor dxh = half.backward(dyh);
             Tensor dxd = exact.backward(dyd)) {
            assertEquals(dtype, yh.dtype());
            assertEquals(dtype, dxh.dtype());
            Close.assertClose(yd.toDoubleArray(), yh.toDoubleArray(), atol, rtol, what + " output");
            Close.assertClose(dxd.toDoubleArray(), dxh.toDoubleArray(), atol, rtol, what + " grad_input");
            for (int k = 0; k < half.parameters().size(); k++) {
                Parameter p = half.parameters().get(k);
                assertEquals(DType.FLOAT32, p.grad().dtype());
                Close.assertClose(exact.parameters().get(k).grad().toDoubleArray(), p.grad().toDoubleArray(), atol,
                        rtol, what + " grad_" + p.name());
            }
        }
    }

    /**
     * BatchNorm's 16-bit kernels on the shapes the channels family treats apart: [N, C] (the column
     * kernels, which take float4s of four channels in float32), short and long spatial sizes, rows and
     * [N, C] that take 16-byte packs of eight values (aligned, and at an offset of 8; the statistics
     * partials' chunks cut inside a segment), and inputs that start at an odd element; on the
     * emulator, against float64.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("sixteenBitBatchShapes")
    void batchNormsSixteenBitKernelsOnEveryPathOfTheChannelsFamily(Shape shape, DType dtype, int offset) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        int n = (int) shape.numel();
        double[] x = TestData.randn(5, n + offset);
        double[] dy = TestData.randn(6, n);
        for (int i = 0; i < x.length; i++) {
            x[i] = dtype.round(2 * x[i] + 1);
        }
        for (int i = 0; i < n; i++) {
            dy[i] = dtype.round(dy[i]);
        }
        double atol = dtype == DType.FLOAT16 ? 1e-3 : 1e-2;
        double rtol = dtype == DType.FLOAT16 ? 1e-3 : 1.6e-2;
        long c = shape.dim(1);
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             BatchNorm half = BatchNorm.builder(c).dtype(dtype).build(cuda);
             BatchNorm exact = BatchNorm.builder(c).dtype(DType.FLOAT64).build(CPU);
             Tensor storage = TestData.tensor(cuda, dtype, x, n + offset);
             Tensor xd = TestData.tensor(CPU, DType.FLOAT64, Arrays.copyOfRange(x, offset, n + offset), shape.dims());
             Tensor dyh = TestData.tensor(cuda, dtype, dy, shape.dims());
             Tensor dyd = TestData.tensor(CPU, DType.FLOAT64, dy, shape.dims());
             Tensor yh = half.forward(storage.view(offset, shape));
             Tensor yd = exact.forward(xd);
             Tensor dxh = half.backward(dyh);
             Tensor dxd = exact.backward(dyd)) {
            Close.assertClose(yd.toDoubleArray(), yh.toDoubleArray(), atol, rtol, shape + " output");
            Close.assertClose(dxd.toDoubleArray(), dxh.toDoubleArray(), atol, rtol, shape + " grad_input");
            Close.assertClose(exact.weight().grad().toDoubleArray(), half.weight().grad().toDoubleArray(), atol, rtol,
                    shape + " grad_weight");
            Close.assertClose(exact.runningVar().toDoubleArray(), half.runningVar().toDoubleArray(), atol, rtol,
                    shape + " running_var");
        }
    }

    static Stream<Arguments> sixteenBitBatchShapes() {
        return Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> Stream.of(Arguments.of(Shape.of(37, 8), t, 0),
                Arguments.of(Shape.of(700, 12), t, 0), Arguments.of(Shape.of(9, 8), t, 1),
                Arguments.of(Shape.of(3, 4, 31), t, 0), Arguments.of(Shape.of(2, 3, 36), t, 3),
                Arguments.of(Shape.of(2, 5, 7, 9), t, 0),
                Arguments.of(Shape.of(2, 3, 40), t, 0), Arguments.of(Shape.of(64, 16), t, 0), // 16-byte packs
                Arguments.of(Shape.of(2, 3, 40), t, 8),
                Arguments.of(Shape.of(2, 3, 40), t, 3), // rows of whole packs at an odd element: scalar
                Arguments.of(Shape.of(17, 3, 1000), t, 0), // packs; a channel's chunks cut inside a segment
                Arguments.of(Shape.of(700, 16), t, 0))); // packs of 8 channels, chunks of rows not a multiple of 4
    }

    /**
     * The rows family's 16-bit kernels on each of its paths (a small device's geometry): rows by
     * teams, by blocks in shared memory and split across blocks; the fused and block backward with
     * their column partials; GroupNorm's and InstanceNorm's one-pass backward and its split.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("sixteenBitRowsShapes")
    void theRowsFamilysSixteenBitKernelsOnEveryPath(String norm, Shape shape, DType dtype) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        int n = (int) shape.numel();
        double[] x = TestData.randn(7, n);
        double[] dy = TestData.randn(8, n);
        for (int i = 0; i < n; i++) {
            x[i] = dtype.round(2 * x[i] - 1);
            dy[i] = dtype.round(dy[i]);
        }
        NormConfig config = NormConfig.defaults().groups(1).eps(1e-5).normalizedDims(1);
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             NormLayer<?> half = NormRegistry.named(norm).build(cuda, shape, config, dtype);
             NormLayer<?> exact = NormRegistry.named(norm).build(CPU, shape, config, DType.FLOAT64)) {
            matchesTheFloat64Layer(half, exact, shape, dtype, x, dy);
        }
    }

    static Stream<Arguments> sixteenBitRowsShapes() {
        return Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> Stream.of(
                Arguments.of("layer", Shape.of(300, 100), t),   // teams over several steps, fused backward
                Arguments.of("layer", Shape.of(2, 4097), t),    // block rows; block backward, column partials
                Arguments.of("rms", Shape.of(1, 70001), t),     // split rows
                Arguments.of("group", Shape.of(2, 2, 1025), t), // block rows; the group on chip backward
                Arguments.of("group", Shape.of(1, 2, 40000), t), // a group split across blocks, and its backward
                Arguments.of("instance", Shape.of(2, 3, 2041), t),
                Arguments.of("layer", Shape.of(64, 96), t),     // teams of 16-byte packs, forward and fused backward
                Arguments.of("rms", Shape.of(8, 1024), t),
                Arguments.of("layer", Shape.of(2, 40000), t),  // split rows applied in 16-byte packs
                Arguments.of("layer", Shape.of(3, 8200), t),   // block rows of 16-byte packs (one chunk)
                Arguments.of("layer", Shape.of(260, 4100), t), // block rows; column partials of 2 chunks
                Arguments.of("rms", Shape.of(260, 8200), t),   // the same in 16-byte packs
                Arguments.of("group", Shape.of(2, 2, 4104), t), // the same, per-channel parameters
                Arguments.of("group", Shape.of(2, 4, 8, 8), t))); // packs of one channel's run
    }

    @Test
    void aSaturatingOutputOnTheEmulatedGpuIsInfinityNotNaN() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        double[] x = TestData.randn(3, 64);
        for (int i = 0; i < x.length; i++) {
            x[i] = DType.FLOAT16.round(x[i]);
        }
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             GroupNorm half = GroupNorm.builder(2, 4).dtype(DType.FLOAT16).build(cuda);
             Tensor xh = TestData.tensor(cuda, DType.FLOAT16, x, 2, 4, 8)) {
            cuda.fill(half.weight().value(), 1e5); // float32 weight: outputs past 65504
            try (Tensor y = half.forward(xh)) {
                double[] got = y.toDoubleArray();
                assertTrue(Arrays.stream(got).anyMatch(Double::isInfinite), "the output saturates to infinity");
                assertTrue(Arrays.stream(got).noneMatch(Double::isNaN), "and never to NaN");
                assertTrue(Arrays.stream(half.lastForward().rstd().toDoubleArray()).allMatch(Double::isFinite),
                        "float32 statistics stay finite");
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void forwardIsTheFloat64ResultOnTheRoundedInputsRoundedOnce(String norm, DType dtype) {
        double[] x = data(dtype, 1, 3, 2);
        double[] dy = data(dtype, 2, 1, 0);
        try (NormLayer<?> half = layer(norm, dtype);
             NormLayer<?> exact = layer(norm, DType.FLOAT64);
             Tensor xh = TestData.tensor(CPU, dtype, x, SHAPE.dims());
             Tensor xd = TestData.tensor(CPU, DType.FLOAT64, x, SHAPE.dims());
             Tensor dyh = TestData.tensor(CPU, dtype, dy, SHAPE.dims());
             Tensor dyd = TestData.tensor(CPU, DType.FLOAT64, dy, SHAPE.dims());
             Tensor yh = half.forward(xh);
             Tensor yd = exact.forward(xd)) {
            assertEquals(dtype, yh.dtype());
            for (Parameter p : half.parameters()) {
                assertEquals(DType.FLOAT32, p.value().dtype(), p.name());
            }
            double[] got = yh.toDoubleArray();
            double[] want = yd.toDoubleArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(dtype.round(want[i]), got[i], norm + " y[" + i + "]");
            }
            try (Tensor dxh = half.backward(dyh); Tensor dxd = exact.backward(dyd)) {
                assertEquals(dtype, dxh.dtype());
                double atol = dtype == DType.FLOAT16 ? 1e-3 : 1e-2;
                double rtol = dtype == DType.FLOAT16 ? 1e-3 : 1.6e-2;
                Close.assertClose(dxd.toDoubleArray(), dxh.toDoubleArray(), atol, rtol, norm + " grad_input");
                List<Parameter> ps = half.parameters();
                for (int k = 0; k < ps.size(); k++) {
                    Close.assertClose(exact.parameters().get(k).grad().toDoubleArray(),
                            ps.get(k).grad().toDoubleArray(), atol, rtol, norm + " grad_" + ps.get(k).name());
                }
            }
        }
    }
}
