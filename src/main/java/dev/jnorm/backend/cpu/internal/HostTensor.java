package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Arrays;

/** A tensor in a Java array: {@code float[]} for float32, {@code double[]} for float64. */
public final class HostTensor extends Tensor {
    private final CpuBackend backend;
    private final float[] floats;
    private final double[] doubles;
    private final int offset;

    private HostTensor(CpuBackend backend, Shape shape, DType dtype, float[] floats, double[] doubles, int offset,
                       Tensor base) {
        super(shape, dtype, base);
        this.backend = backend;
        this.floats = floats;
        this.doubles = doubles;
        this.offset = offset;
    }

    public static HostTensor zeros(CpuBackend backend, Shape shape, DType dtype) {
        int n = hostLength(shape.numel());
        return dtype == DType.FLOAT32
                ? new HostTensor(backend, shape, dtype, new float[n], null, 0, null)
                : new HostTensor(backend, shape, dtype, null, new double[n], 0, null);
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    protected Tensor createView(long offset, Shape shape) {
        return new HostTensor(backend, shape, dtype(), floats, doubles, this.offset + (int) offset, this);
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
            out[i] = (float) doubles[offset + i];
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
            out[i] = floats[offset + i];
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
                doubles[offset + i] = values[i];
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
                floats[offset + i] = (float) values[i];
            }
        }
    }

    /** Element {@code i} of this tensor. */
    double get(int i) {
        return floats != null ? floats[offset + i] : doubles[offset + i];
    }

    /** Sets element {@code i}, rounded to this tensor's dtype. */
    void set(int i, double value) {
        if (floats != null) {
            floats[offset + i] = (float) value;
        } else {
            doubles[offset + i] = value;
        }
    }

    /** The float32 storage (null for float64) and where this tensor starts in it. */
    float[] floatStorage() {
        return floats;
    }

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
        } else {
            System.arraycopy(src.doubles, src.offset + from, doubles, offset + at, length);
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
                doubles[offset + at + i] += src.doubles[src.offset + from + i];
            }
        }
    }

    /** Sets {@code length} elements from {@code at} to {@code value}. */
    public void fill(double value) {
        requireOpen();
        if (floats != null) {
            Arrays.fill(floats, offset, offset + length(), (float) value);
        } else {
            Arrays.fill(doubles, offset, offset + length(), value);
        }
    }

    @Override
    protected void release() {
        // Java arrays are reclaimed by the garbage collector once unreachable.
    }
}
