package dev.jnorm.backend.cuda;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * A tensor in device memory: float32, or float16 / bfloat16 held as 16-bit patterns. Owned tensors return their memory to the backend's allocator
 * on close; a tensor that becomes unreachable unclosed is reported as a leak and freed then.
 * Wrapped tensors (the caller's own memory) and views free nothing.
 */
final class DeviceTensor extends Tensor {
    private final CudaBackend backend;
    private final DevicePointer pointer;
    private final long alignmentOffset;
    private final Runnable release;

    /**
     * @param alignmentOffset bytes from a 256-byte aligned address, or −1 when unknown (wrapped memory)
     * @param release         frees the memory once, or null when this tensor owns none
     */
    DeviceTensor(CudaBackend backend, Shape shape, DType dtype, DevicePointer pointer, long alignmentOffset,
                 Runnable release, Tensor base) {
        super(shape, dtype, base);
        this.backend = backend;
        this.pointer = pointer;
        this.alignmentOffset = alignmentOffset;
        this.release = release;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    DevicePointer pointer() {
        requireOpen();
        return pointer;
    }

    /** True when the first element is 16-byte aligned, so float4 accesses are allowed. */
    boolean aligned16() {
        return alignmentOffset >= 0 && alignmentOffset % 16 == 0;
    }

    @Override
    protected Tensor createView(long offset, Shape shape) {
        long bytes = (long) dtype().bytes() * offset;
        return new DeviceTensor(backend, shape, dtype(), pointer.plus(bytes),
                alignmentOffset < 0 ? -1 : alignmentOffset + bytes, null, this);
    }

    @Override
    public float[] toFloatArray() {
        requireOpen();
        if (!dtype().sixteenBit()) {
            return backend.download(this);
        }
        short[] bits = backend.download16(this);
        float[] f = new float[bits.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) dtype().fromBits(bits[i]); // exact: 16-bit values are floats
        }
        return f;
    }

    @Override
    public double[] toDoubleArray() {
        float[] f = toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Override
    public void copyFrom(float[] values) {
        requireOpen();
        requireLength(values.length);
        if (!dtype().sixteenBit()) {
            backend.upload(this, values);
            return;
        }
        double[] exact = new double[values.length];
        for (int i = 0; i < exact.length; i++) {
            exact[i] = values[i];
        }
        copyFrom(exact);
    }

    @Override
    public void copyFrom(double[] values) {
        requireOpen();
        requireLength(values.length);
        if (dtype().sixteenBit()) { // rounded once, from double, as the host tensors round
            short[] bits = new short[values.length];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = dtype().toBits(values[i]);
            }
            backend.upload16(this, bits);
            return;
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        backend.upload(this, f);
    }

    @Override
    protected void release() {
        if (release != null) {
            release.run();
        }
    }

    static int hostLength(Tensor t) {
        return Tensor.hostLength(t.numel());
    }
}
