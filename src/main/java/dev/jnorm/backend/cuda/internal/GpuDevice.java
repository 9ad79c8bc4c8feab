package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaException;
import dev.jnorm.backend.cuda.DeviceInfo;
import dev.jnorm.backend.cuda.MemoryTraffic;
import dev.jnorm.tensor.DType;

/**
 * A CUDA device as {@link CudaBackend} drives it: memory, copies and kernel launches on one
 * stream, in order. {@link JCudaDevice} implements it with the CUDA driver API; the test suite
 * implements it with a CPU emulator of the same kernels.
 *
 * <p>Kernel arguments are {@link DevicePointer}s ({@code null} for a null pointer) and boxed
 * {@code Integer} ({@code int}), {@code Long} ({@code long long}) and {@code Float} values, in the
 * order of the kernel's C parameters. Errors are {@link CudaException}s.
 */
public interface GpuDevice extends AutoCloseable {

    DeviceInfo info();

    /** Makes this device's context current on the calling thread. */
    void makeCurrent();

    /** Uninitialized device memory, aligned to at least 256 bytes. */
    DevicePointer allocate(long bytes);

    void free(DevicePointer pointer);

    /** Sets {@code count} 32-bit words to {@code bits}, in stream order. */
    void fill32(DevicePointer pointer, int bits, long count);

    /** Copies {@code count} floats from the host, after the work already queued. */
    void upload(DevicePointer destination, float[] source, int offset, int count);

    /** Copies {@code count} floats to the host, after the work already queued. */
    void download(DevicePointer source, float[] destination, int offset, int count);

    /** Sets {@code count} 16-bit words to {@code bits}, in stream order. */
    void fill16(DevicePointer pointer, short bits, long count);

    /** Copies {@code count} 16-bit words (float16 or bfloat16 patterns) from the host, after the work already queued. */
    void upload16(DevicePointer destination, short[] source, int offset, int count);

    /** Copies {@code count} 16-bit words to the host, after the work already queued. */
    void download16(DevicePointer source, short[] destination, int offset, int count);

    void copy(DevicePointer destination, DevicePointer source, long bytes);

    /** Queues a kernel over a one-dimensional grid of {@code grid} blocks of {@code block} threads. */
    void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args);

    /**
     * Queues a row-major GEMM {@code c = alpha·op(a)·op(b) + beta·c} on the device's BLAS (lda, ldb: the
     * row lengths of a and b as stored; c's is n), accumulating in fp32, or returns false when it has
     * none, so that the caller runs its own kernel.
     *
     * @param inputs the storage of a and b: float32, float16 or bfloat16
     * @param output the storage of c: float32, or the inputs' 16-bit type
     */
    boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, DevicePointer a, int lda,
                 DevicePointer b, int ldb, float beta, DevicePointer c, DType inputs, DType output);

    /**
     * Waits for everything queued. A fault of a kernel (an illegal address) is reported here, or by
     * whichever later call first notices it: launches run asynchronously.
     */
    void synchronize();

    /**
     * The global-memory bytes the kernels launched so far read and wrote, or null where the device
     * does not count them (a GPU; the kernel emulator counts them).
     */
    default MemoryTraffic traffic() {
        return null;
    }

    /**
     * The device time {@code work} takes: events recorded on the stream before and after what it
     * queues, waited for. Includes gaps when the host queues work slower than the device runs it.
     */
    double timeMillis(Runnable work);

    @Override
    void close();
}
