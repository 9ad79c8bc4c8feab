package dev.jnorm.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.module.Parameter;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/** DESIGN's 16-bit tolerances, and a 16-bit layer held to them against a float64 one. */
public final class SixteenBit {
    private SixteenBit() {
    }

    /** |got − ref| ≤ atol + rtol·|ref|: float16 1e-3, bfloat16 1e-2. */
    public static double atol(DType dtype) {
        return dtype == DType.FLOAT16 ? 1e-3 : 1e-2;
    }

    /** float16 1e-3, bfloat16 1.6e-2. */
    public static double rtol(DType dtype) {
        return dtype == DType.FLOAT16 ? 1e-3 : 1.6e-2;
    }

    /**
     * The 16-bit layer's output and input gradient (16-bit), and its parameters' gradients (float32),
     * against the float64 layer's on the same rounded x and dy (values of {@code dtype}), within the
     * 16-bit tolerances.
     */
    public static void matchesFloat64(NormLayer<?> half, NormLayer<?> exact, Shape shape, DType dtype, double[] x,
                                      double[] dy) {
        double atol = atol(dtype);
        double rtol = rtol(dtype);
        String what = half.getClass().getSimpleName() + " " + shape + " " + dtype;
        try (Tensor xh = TestData.tensor(half.backend(), dtype, x, shape.dims());
             Tensor xd = TestData.tensor(exact.backend(), DType.FLOAT64, x, shape.dims());
             Tensor dyh = TestData.tensor(half.backend(), dtype, dy, shape.dims());
             Tensor dyd = TestData.tensor(exact.backend(), DType.FLOAT64, dy, shape.dims());
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
}
