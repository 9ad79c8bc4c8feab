package dev.jnorm.backend.cuda;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A {@link GpuDevice} that runs the kernels of {@code cuda-kernels/} on the CPU emulator
 * ({@code cuda-kernels/emulator}, built by Maven into {@code target/emulator}): threads are fibers
 * with real barriers, device memory is NaN-filled host memory with guarded ends. Launch errors
 * (a deadlock, a write past a buffer, arguments that do not match the kernel) are sticky, as an
 * illegal address is on a GPU. It reports a small device (2 SMs, 64 KiB of shared memory per
 * block) so that launches stay small and every code path of the backend is reached on small inputs.
 */
public final class EmulatedDevice implements GpuDevice {
    private static final String LIBRARY = System.getProperty("jnorm.emulator", "target/emulator/libjnorm_emulator.so");
    private static final String UNAVAILABLE = load();

    private final DeviceInfo info;
    private final long memoryLimit;
    private long allocated;
    private String failNextLaunch;

    /** @param memoryLimit bytes this device may hand out before reporting out of memory */
    public EmulatedDevice(long memoryLimit) {
        if (UNAVAILABLE != null) {
            throw new IllegalStateException(UNAVAILABLE);
        }
        this.memoryLimit = memoryLimit;
        this.info = new DeviceInfo("CPU emulator of the CUDA kernels", 9, 0, 2, 64 << 10, 1 << 20, memoryLimit,
                "emulated");
    }

    public EmulatedDevice() {
        this(1L << 32);
    }

    /** Why the emulator cannot run here, or null when it can. */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    private static String load() {
        Path library = Path.of(LIBRARY).toAbsolutePath();
        if (!Files.exists(library)) {
            return "the kernel emulator is not built (" + library + " is missing; it needs g++ and JNI headers)";
        }
        System.load(library.toString());
        return null;
    }

    /** The kernels the emulator library has registered. */
    public static String[] registeredKernels() {
        return kernelNames();
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public void makeCurrent() {
        // One emulated device, nothing to switch.
    }

    @Override
    public DevicePointer allocate(long bytes) {
        if (allocated + bytes > memoryLimit) {
            throw new CudaOutOfMemoryException("out of memory allocating " + bytes + " bytes on the emulator ("
                    + allocated + " of " + memoryLimit + " in use)");
        }
        long address = allocate0(bytes);
        if (address == 0) {
            throw new CudaOutOfMemoryException("the emulator could not map " + bytes + " bytes");
        }
        allocated += bytes;
        return new Address(address, bytes);
    }

    @Override
    public void free(DevicePointer pointer) {
        Address a = (Address) pointer;
        release(a.address);
        allocated -= a.bytes;
    }

    @Override
    public void fill32(DevicePointer pointer, int bits, long count) {
        fill32(address(pointer), bits, count);
    }

    @Override
    public void upload(DevicePointer destination, float[] source, int offset, int count) {
        upload(address(destination), source, offset, count);
    }

    @Override
    public void download(DevicePointer source, float[] destination, int offset, int count) {
        download(address(source), destination, offset, count);
    }

    @Override
    public void copy(DevicePointer destination, DevicePointer source, long bytes) {
        copy(address(destination), address(source), bytes);
    }

    /** Makes the next launch fail with a sticky error, as an illegal address would on a GPU. */
    public void failNextLaunch(String error) {
        failNextLaunch = error;
    }

    @Override
    public void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
        if (failNextLaunch != null) {
            String error = failNextLaunch;
            failNextLaunch = null;
            throw new CudaException(kernel.entry() + " failed with " + error, error, true);
        }
        if (sharedBytes > info.sharedMemoryPerBlock()) {
            throw new CudaException(kernel.entry() + ": " + sharedBytes + " bytes of shared memory, more than the "
                    + info.sharedMemoryPerBlock() + " a block may have", "CUDA_ERROR_INVALID_VALUE", false);
        }
        long[] values = new long[args.length];
        int[] tags = new int[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null || a instanceof DevicePointer) {
                tags[i] = 1;
                values[i] = a == null ? 0 : address((DevicePointer) a);
            } else if (a instanceof Integer v) {
                tags[i] = 2;
                values[i] = v;
            } else if (a instanceof Long v) {
                tags[i] = 3;
                values[i] = v;
            } else if (a instanceof Float v) {
                tags[i] = 4;
                values[i] = Float.floatToRawIntBits(v);
            } else {
                throw new IllegalArgumentException("kernel argument of type " + a.getClass());
            }
        }
        String error = launch(kernel.entry(), (int) Math.min(grid, Integer.MAX_VALUE), block, sharedBytes, values,
                tags);
        if (error != null) {
            throw new CudaException("emulated launch failed: " + error, "EMULATED_LAUNCH_FAILURE", true);
        }
    }

    /** No BLAS here: the backend uses its own GEMM kernel, which is thereby tested. */
    @Override
    public boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, DevicePointer a,
                        int lda, DevicePointer b, int ldb, float beta, DevicePointer c) {
        return false;
    }

    @Override
    public void synchronize() {
        // Launches run to completion before they return.
    }

    @Override
    public double timeMillis(Runnable work) {
        long start = System.nanoTime();
        work.run();
        return (System.nanoTime() - start) / 1e6;
    }

    @Override
    public void close() {
        // Memory still allocated is unmapped when the test JVM exits.
    }

    private static long address(DevicePointer p) {
        return ((Address) p).address;
    }

    private record Address(long address, long bytes) implements DevicePointer {
        @Override
        public DevicePointer plus(long offset) {
            return new Address(address + offset, bytes);
        }
    }

    private static native long allocate0(long bytes);

    private static native void release(long address);

    private static native void fill32(long address, int bits, long count);

    private static native void upload(long address, float[] source, int offset, int count);

    private static native void download(long address, float[] destination, int offset, int count);

    private static native void copy(long destination, long source, long bytes);

    private static native String launch(String kernel, int grid, int block, int sharedBytes, long[] args, int[] tags);

    private static native String[] kernelNames();
}
