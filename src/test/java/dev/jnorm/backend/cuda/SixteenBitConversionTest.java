package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The kernels that widen 16-bit data to float32 and round float32 back (convert.cu), through the
 * backend's running of a float32 op on 16-bit data: every 16-bit pattern widens exactly and comes
 * back the same (NaN as a NaN), and float32 values round to nearest even as the host's conversion
 * (and PyTorch's, SixteenBitTest) does: ties, subnormals, overflow to infinity, signed zeros.
 */
class SixteenBitConversionTest {

    /** y = x, as a float32 op sees it: a copy of what the backend hands it. */
    record Copy(Tensor x, Tensor y) implements NormOp {
        @Override
        public String name() {
            return "copy";
        }

        @Override
        public Shape shape() {
            return x.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            cpu.write(y, cpu.read(x));
        }

        @Override
        public void launch(CudaKit gpu) {
            gpu.copy(gpu.pointer(y), gpu.pointer(x), 4 * x.numel());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT16", "BFLOAT16"})
    void everyPatternWidensExactlyAndRoundTrips(DType dtype) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        short[] all = new short[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             Tensor x = cuda.empty(Shape.of(all.length), dtype);
             Tensor wide = cuda.empty(Shape.of(all.length), DType.FLOAT32);
             Tensor back = cuda.empty(Shape.of(all.length), dtype)) {
            cuda.upload16((DeviceTensor) x, all);
            cuda.run(new Copy(x, wide)); // widened by the kernel
            cuda.run(new Copy(wide, back)); // rounded back by the kernel
            float[] w = wide.toFloatArray();
            short[] b = cuda.download16((DeviceTensor) back);
            for (int i = 0; i < all.length; i++) {
                double want = dtype.fromBits(all[i]);
                if (Double.isNaN(want)) {
                    assertTrue(Float.isNaN(w[i]) && Double.isNaN(dtype.fromBits(b[i])), "NaN " + i);
                } else {
                    assertEquals(want, w[i], "widened " + Integer.toHexString(i));
                    assertEquals(all[i], b[i], "round trip " + Integer.toHexString(i));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT16", "BFLOAT16"})
    void floatsRoundToNearestEvenAsTheHostDoes(DType dtype) {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        SplittableRandom random = new SplittableRandom(7);
        float[] values = new float[20000];
        int n = 0;
        for (short bits = 0; n < 2 * 2048; bits += 17) { // ties above odd and even patterns, and their neighbours
            float v = (float) dtype.fromBits(bits);
            float next = (float) dtype.fromBits((short) (bits + 1));
            if (Float.isFinite(v) && Float.isFinite(next)) {
                float mid = (v + next) / 2; // exact in float for both formats
                values[n++] = mid;
                values[n++] = Math.nextUp(mid);
            } else {
                values[n++] = v;
                values[n++] = -v;
            }
        }
        float[] edges = {0f, -0f, 65504f, 65519.99f, 65520f, 1e-8f, 2.98e-8f, 6e-8f, -1e-7f, 3.4e38f,
            Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE};
        for (float e : edges) {
            values[n++] = e;
        }
        while (n < values.length) {
            values[n++] = Float.intBitsToFloat(random.nextInt());
        }
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL));
             Tensor x = cuda.upload(values, Shape.of(values.length));
             Tensor y = cuda.empty(Shape.of(values.length), dtype)) {
            cuda.run(new Copy(x, y));
            short[] got = cuda.download16((DeviceTensor) y);
            for (int i = 0; i < values.length; i++) {
                if (Float.isNaN(values[i])) {
                    assertTrue(Double.isNaN(dtype.fromBits(got[i])), "NaN stays NaN");
                } else {
                    assertEquals(dtype.toBits(values[i]), got[i], values[i] + " (" + Integer.toHexString(
                            Float.floatToRawIntBits(values[i])) + ")");
                }
            }
        }
    }
}
