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
import dev.jnorm.testing.SixteenBit;
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
 * RMSNorm's default is the input dtype's machine epsilon, as PyTorch's.) The CUDA backend's 16-bit
 * kernels are held to the same tolerances by {@code CudaBackendContract}, on the emulator's geometries
 * and on a GPU.
 */
class SixteenBitLayersTest {
    private static final Backend CPU = new CpuBackend();
    private static final Shape SHAPE = Shape.of(3, 4, 5, 6);

    static Stream<Arguments> cases() {
        return Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> java.util.Arrays.stream(NormKind.values())
                .filter(s -> !s.reparameterizes()).map(s -> Arguments.of(s.commandName(), t)));
    }

    private static NormLayer<?> layer(String norm, DType dtype) {
        NormLayer<?> layer = NormRegistry.named(norm).build(CPU, SHAPE, NormConfig.defaults().groups(2).eps(1e-5),
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
                double atol = SixteenBit.atol(dtype);
                double rtol = SixteenBit.rtol(dtype);
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
