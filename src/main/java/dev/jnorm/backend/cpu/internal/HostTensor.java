package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Arrays;

/**
 * A tensor in a Java array: {@code float[]} for float32, {@code double[]} for float64, and the 16-bit
 * patterns in {@code short[]} for float16 and bfloat16 (rounded once, to nearest even, on store).
 */
public final class HostTensor extends Tensor {
    private final CpuBackend backend;
    private final float[] floats;
    private final double[] doubles;
    private final short[] halves;
    private final int offset;
    private final FloatPool pool; // where the float storage goes on close, or null

    private HostTensor(CpuBackend backend, Shape shape, DType dtype, float[] floats, double[] doubles,
                       short[] halves, int offset, Tensor base, FloatPool pool) {
        super(shape, dtype, base);
        this.pool = pool;
        this.backend = backend;
        this.floats = floats;
        this.doubles = doubles;
        this.halves = halves;
        this.offset = offset;
    }

    /**
     * A new tensor whose contents are unspecified: float32 storage comes from {@code pool} (an old
     * tensor's, or NaN with JNORM_CPU_POISON=1) and goes back to it on close; other dtypes are zeros.
     */
    public static HostTensor empty(CpuBackend backend, FloatPool pool, Shape shape, DType dtype) {
        if (dtype != DType.FLOAT32) {
            return zeros(backend, shape, dtype);
        }
        return new HostTensor(backend, shape, dtype, pool.take(hostLength(shape.numel())), null, null, 0, null, pool);
    }

    public static HostTensor zeros(CpuBackend backend, Shape shape, DType dtype) {
        int n = hostLength(shape.numel());
        return switch (dtype) {
            case FLOAT32 -> new HostTensor(backend, shape, dtype, new float[n], null, null, 0, null, null);
            case FLOAT64 -> new HostTensor(backend, shape, dtype, null, new double[n], null, 0, null, null);
            case FLOAT16, BFLOAT16 -> new HostTensor(backend, shape, dtype, null, null, new short[n], 0, null, null);
        };
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    protected Tensor createView(long offset, Shape shape) {
        return new HostTensor(backend, shape, dtype(), floats, doubles, halves, this.offset + (int) offset, this, null);
    }

    private int length() {
        return (int) numel();
    }

    @Override
    public float[] toFloatArray() {
        requireOpen();
        if (floats != null) {
            return Arrays.copyOfRange(floats, offset, offset + length());
        }
        float[] out = new float[length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) get(i);
        }
        return out;
    }

    @Override
    public double[] toDoubleArray() {
        requireOpen();
        if (doubles != null) {
            return Arrays.copyOfRange(doubles, offset, offset + length());
        }
        double[] out = new double[length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = get(i);
        }
        return out;
    }

    @Override
    public void copyFrom(float[] values) {
        requireOpen();
        requireLength(values.length);
        if (floats != null) {
            System.arraycopy(values, 0, floats, offset, values.length);
        } else {
            for (int i = 0; i < values.length; i++) {
                set(i, values[i]);
            }
        }
    }

    @Override
    public void copyFrom(double[] values) {
        requireOpen();
        requireLength(values.length);
        if (doubles != null) {
            System.arraycopy(values, 0, doubles, offset, values.length);
        } else {
            for (int i = 0; i < values.length; i++) {
                set(i, values[i]);
            }
        }
    }

    /** Element {@code i} of this tensor. */
    double get(int i) {
        if (floats != null) {
            return floats[offset + i];
        }
        return doubles != null ? doubles[offset + i] : dtype().fromBits(halves[offset + i]);
    }

    /** Sets element {@code i}, rounded to this tensor's dtype. */
    void set(int i, double value) {
        if (floats != null) {
            floats[offset + i] = (float) value;
        } else if (doubles != null) {
            doubles[offset + i] = value;
        } else {
            halves[offset + i] = dtype().toBits(value);
        }
    }

    /** The float32 storage (null for the other dtypes) and where this tensor starts in it. */
    float[] floatStorage() {
        return floats;
    }

    /** The float64 storage (null for the other dtypes). */
    double[] doubleStorage() {
        return doubles;
    }

    int storageOffset() {
        return offset;
    }

    /** Copies {@code length} elements of {@code src} (same dtype) from {@code from} to {@code at} here. */
    void copyRange(HostTensor src, int from, int at, int length) {
        if (floats != null) {
            System.arraycopy(src.floats, src.offset + from, floats, offset + at, length);
        } else if (doubles != null) {
            System.arraycopy(src.doubles, src.offset + from, doubles, offset + at, length);
        } else {
            System.arraycopy(src.halves, src.offset + from, halves, offset + at, length);
        }
    }

    /** Adds {@code length} elements of {@code src} (same dtype) from {@code from} into those from {@code at}. */
    void addRange(HostTensor src, int from, int at, int length) {
        if (floats != null) {
            for (int i = 0; i < length; i++) {
                floats[offset + at + i] += src.floats[src.offset + from + i];
            }
        } else {
            for (int i = 0; i < length; i++) {
                set(at + i, get(at + i) + src.get(from + i));
            }
        }
    }

    /** Sets {@code length} elements from {@code at} to {@code value}. */
    void fillRange(int at, int length, double value) {
        if (floats != null) {
            Arrays.fill(floats, offset + at, offset + at + length, (float) value);
        } else if (doubles != null) {
            Arrays.fill(doubles, offset + at, offset + at + length, value);
        } else {
            Arrays.fill(halves, offset + at, offset + at + length, dtype().toBits(value));
        }
    }

    /** Sets every element to {@code value}. */
    public void fill(double value) {
        requireOpen();
        fillRange(0, length(), value);
    }

    @Override
    protected void release() {
        if (pool != null) { // views have none: only the owner gives its storage back
            pool.give(floats);
        }
        // other arrays are reclaimed by the garbage collector once unreachable
    }
}
