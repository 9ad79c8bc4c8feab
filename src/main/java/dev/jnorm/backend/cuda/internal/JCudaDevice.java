package dev.jnorm.backend.cuda.internal;

import dev.jnorm.tensor.DType;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES;
import static jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY;
import static jcuda.driver.CUresult.CUDA_SUCCESS;

import dev.jnorm.backend.cuda.CudaException;
import dev.jnorm.backend.cuda.CudaOutOfMemoryException;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import dev.jnorm.backend.cuda.DeviceInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link GpuDevice} through JCuda's driver API: the device's primary context (retained once, made
 * current by {@link #makeCurrent()}), one stream, the PTX modules loaded once. Every driver call's
 * result is checked; errors become {@link CudaException}s.
 */
public final class JCudaDevice implements GpuDevice {
    private static final Logger LOG = LoggerFactory.getLogger(JCudaDevice.class);
    /** Errors after which the context is unusable. */
    private static final Set<Integer> STICKY = Set.of(
            CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, CUresult.CUDA_ERROR_LAUNCH_FAILED,
            CUresult.CUDA_ERROR_MISALIGNED_ADDRESS, CUresult.CUDA_ERROR_ILLEGAL_INSTRUCTION,
            CUresult.CUDA_ERROR_HARDWARE_STACK_ERROR, CUresult.CUDA_ERROR_INVALID_PC,
            CUresult.CUDA_ERROR_INVALID_ADDRESS_SPACE, CUresult.CUDA_ERROR_ASSERT,
            CUresult.CUDA_ERROR_LAUNCH_TIMEOUT, CUresult.CUDA_ERROR_ECC_UNCORRECTABLE,
            CUresult.CUDA_ERROR_CONTEXT_IS_DESTROYED);

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<Kernel, CUfunction> functions = new EnumMap<>(Kernel.class);
    private final DeviceInfo info;
    private Blas blas;
    private boolean closed;

    private JCudaDevice(int ordinal) {
        check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet");
        check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        try {
            check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
        } catch (CudaException e) {
            logFailure(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
            throw e;
        }
        this.info = readInfo();
    }

    /**
     * Opens device {@code ordinal}: its context, a stream and every kernel module.
     *
     * @throws CudaUnavailableException saying why when the driver, the device or the PTX is unusable
     */
    public static JCudaDevice open(int ordinal) {
        if (Driver.PROBLEM != null) {
            throw new CudaUnavailableException(Driver.PROBLEM);
        }
        int init = JCudaDriver.cuInit(0);
        if (init != CUDA_SUCCESS) {
            throw new CudaUnavailableException(init == CUresult.CUDA_ERROR_NO_DEVICE
                    ? "no CUDA device" : "the CUDA driver did not initialize: " + CUresult.stringFor(init));
        }
        int[] count = new int[1];
        int counted = JCudaDriver.cuDeviceGetCount(count);
        if (counted != CUDA_SUCCESS) {
            throw new CudaUnavailableException("the CUDA driver could not count its devices: "
                    + CUresult.stringFor(counted));
        }
        if (count[0] <= ordinal) {
            throw new CudaUnavailableException(count[0] == 0 ? "no CUDA device"
                    : "no CUDA device " + ordinal + " (" + count[0] + " present)");
        }
        JCudaDevice d;
        try {
            d = new JCudaDevice(ordinal);
        } catch (CudaException e) {
            throw new CudaUnavailableException("CUDA device " + ordinal + " could not be opened: " + e.getMessage());
        }
        try {
            d.loadKernels();
        } catch (CudaException e) {
            d.close();
            throw new CudaUnavailableException(kernelsDidNotLoad(d.info, e.getMessage(), Ptx.highestIsa(d.info)));
        }
        return d;
    }

    /** Why the backend is unavailable when the driver refuses the PTX: what it said, and what the PTX needs. */
    static String kernelsDidNotLoad(DeviceInfo device, String error, String isa) {
        return "the PTX kernels did not load on " + device + ": " + error + " (they are PTX ISA " + isa
                + ", which needs an NVIDIA driver for CUDA " + Ptx.cudaForIsa(isa) + " or newer; this driver is for CUDA "
                + device.driver() + ")";
    }

    private DeviceInfo readInfo() {
        byte[] name = new byte[256];
        check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        long[] memory = new long[1];
        check(JCudaDriver.cuDeviceTotalMem(memory, device), "cuDeviceTotalMem");
        int[] version = new int[1];
        check(JCudaDriver.cuDriverGetVersion(version), "cuDriverGetVersion");
        return new DeviceInfo(new String(name, StandardCharsets.US_ASCII).trim().replace("\0", ""),
                attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE), memory[0], version[0] / 1000 + "." + version[0] % 1000 / 10);
    }

    private int attribute(int attribute) {
        int[] value = new int[1];
        check(JCudaDriver.cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute");
        return value[0];
    }

    private void loadKernels() {
        for (Kernel k : Kernel.values()) {
            if (!Ptx.loadedOn(k, info)) {
                continue; // compute_90 PTX (thread-block clusters): not for this device
            }
            CUmodule module = modules.computeIfAbsent(k.module(), this::loadModule);
            CUfunction f = new CUfunction();
            check(JCudaDriver.cuModuleGetFunction(f, module, k.entry()), "cuModuleGetFunction " + k.entry());
            if (k.dynamicShared()) {
                int[] staticShared = new int[1];
                check(JCudaDriver.cuFuncGetAttribute(staticShared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f),
                        "cuFuncGetAttribute " + k.entry());
                check(JCudaDriver.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                        (int) info.sharedMemoryPerBlock() - staticShared[0]), "cuFuncSetAttribute " + k.entry());
            }
            functions.put(k, f);
        }
    }

    private CUmodule loadModule(String name) {
        byte[] ptx;
        try {
            byte[] text = Ptx.read(name);
            ptx = java.util.Arrays.copyOf(text, text.length + 1); // NUL-terminated
        } catch (IOException e) {
            throw new CudaException("cannot read " + name + ".ptx: " + e.getMessage(), "PTX_MISSING", false);
        }
        CUmodule module = new CUmodule();
        check(JCudaDriver.cuModuleLoadData(module, ptx), "cuModuleLoadData " + name + ".ptx");
        return module;
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public void makeCurrent() {
        check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    @Override
    public DevicePointer allocate(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        int result = JCudaDriver.cuMemAlloc(p, Math.max(bytes, 1));
        if (result == CUDA_ERROR_OUT_OF_MEMORY) {
            throw new CudaOutOfMemoryException("out of memory allocating " + bytes + " bytes on " + info.name());
        }
        check(result, "cuMemAlloc of " + bytes + " bytes");
        return new Address(p);
    }

    @Override
    public void free(DevicePointer pointer) {
        check(JCudaDriver.cuMemFree(raw(pointer)), "cuMemFree");
    }

    @Override
    public void fill32(DevicePointer pointer, int bits, long count) {
        check(JCudaDriver.cuMemsetD32Async(raw(pointer), bits, count, stream), "cuMemsetD32Async");
    }

    @Override
    public void fill16(DevicePointer pointer, short bits, long count) {
        check(JCudaDriver.cuMemsetD16Async(raw(pointer), bits, count, stream), "cuMemsetD16Async");
    }

    @Override
    public void upload16(DevicePointer destination, short[] source, int offset, int count) {
        synchronize();
        check(JCudaDriver.cuMemcpyHtoD(raw(destination), Pointer.to(source).withByteOffset(2L * offset), 2L * count),
                "cuMemcpyHtoD");
    }

    @Override
    public void download16(DevicePointer source, short[] destination, int offset, int count) {
        synchronize();
        check(JCudaDriver.cuMemcpyDtoH(Pointer.to(destination).withByteOffset(2L * offset), raw(source), 2L * count),
                "cuMemcpyDtoH");
    }

    @Override
    public void upload(DevicePointer destination, float[] source, int offset, int count) {
        synchronize(); // the legacy-stream copy below then orders after our stream's work
        check(JCudaDriver.cuMemcpyHtoD(raw(destination), Pointer.to(source).withByteOffset(4L * offset), 4L * count),
                "cuMemcpyHtoD");
    }

    @Override
    public void download(DevicePointer source, float[] destination, int offset, int count) {
        synchronize();
        check(JCudaDriver.cuMemcpyDtoH(Pointer.to(destination).withByteOffset(4L * offset), raw(source), 4L * count),
                "cuMemcpyDtoH");
    }

    @Override
    public void copy(DevicePointer destination, DevicePointer source, long bytes) {
        check(JCudaDriver.cuMemcpyDtoDAsync(raw(destination), raw(source), bytes, stream), "cuMemcpyDtoDAsync");
    }

    @Override
    public void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
        if (grid < 1 || grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("grid of " + grid + " blocks for " + kernel.entry());
        }
        CUfunction function = functions.get(kernel);
        if (function == null) {
            throw new IllegalStateException(kernel.entry() + " uses thread-block clusters, which " + info
                    + " does not have (compute capability 9.0 or newer)");
        }
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null) {
                params[i] = Pointer.to(new CUdeviceptr());
            } else if (a instanceof Address p) {
                params[i] = Pointer.to(p.pointer);
            } else if (a instanceof Integer v) {
                params[i] = Pointer.to(new int[] {v});
            } else if (a instanceof Long v) {
                params[i] = Pointer.to(new long[] {v});
            } else if (a instanceof Float v) {
                params[i] = Pointer.to(new float[] {v});
            } else {
                throw new IllegalArgumentException("kernel argument of type " + a.getClass());
            }
        }
        check(JCudaDriver.cuLaunchKernel(function, (int) grid, 1, 1, block, 1, 1, sharedBytes, stream,
                Pointer.to(params), null), "cuLaunchKernel " + kernel.entry());
    }

    @Override
    public boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, DevicePointer a,
                        int lda, DevicePointer b, int ldb, float beta, DevicePointer c, DType inputs,
                        DType output) {
        if (blas == null) {
            blas = Blas.open(stream);
        }
        return blas.gemm(transposeA, transposeB, m, n, k, alpha, raw(a), lda, raw(b), ldb, beta, raw(c), inputs,
                output);
    }

    @Override
    public void synchronize() {
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    @Override
    public double timeMillis(Runnable work) {
        CUevent start = new CUevent();
        CUevent end = new CUevent();
        check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        check(JCudaDriver.cuEventCreate(end, 0), "cuEventCreate");
        try {
            check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
            work.run();
            check(JCudaDriver.cuEventRecord(end, stream), "cuEventRecord");
            check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
            float[] millis = new float[1];
            check(JCudaDriver.cuEventElapsedTime(millis, start, end), "cuEventElapsedTime");
            return millis[0];
        } finally {
            logFailure(JCudaDriver.cuEventDestroy(start), "cuEventDestroy");
            logFailure(JCudaDriver.cuEventDestroy(end), "cuEventDestroy");
        }
    }

    /** A pointer to memory the caller allocated with JCuda, for wrapping as a tensor. */
    public static DevicePointer pointer(CUdeviceptr pointer) {
        return new Address(pointer);
    }

    static CUdeviceptr raw(DevicePointer p) {
        return ((Address) p).pointer;
    }

    /**
     * The device address {@code p} stands for, as a number, for libraries other than JCuda (NCCL
     * through JavaCPP). JCuda keeps it in protected fields, read here by reflection.
     *
     * @param p a pointer of this device
     * @return its address
     * @throws IllegalArgumentException for a pointer of another device (the emulator's)
     */
    public static long address(DevicePointer p) {
        if (!(p instanceof Address a)) {
            throw new IllegalArgumentException("not a pointer into a CUDA device's memory: " + p);
        }
        try {
            return (long) AddressFields.NATIVE.invoke(a.pointer) + (long) AddressFields.OFFSET.invoke(a.pointer);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("reading a JCuda pointer's address", e);
        }
    }

    /** JCuda's accessors of a pointer's address and offset, opened once. */
    private static final class AddressFields {
        static final java.lang.reflect.Method NATIVE = open(jcuda.NativePointerObject.class, "getNativePointer");
        static final java.lang.reflect.Method OFFSET = open(jcuda.Pointer.class, "getByteOffset");

        private static java.lang.reflect.Method open(Class<?> type, String name) {
            try {
                java.lang.reflect.Method m = type.getDeclaredMethod(name);
                m.setAccessible(true);
                return m;
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("JCuda's " + type.getName() + "." + name + " is not there", e);
            }
        }
    }

    private void check(int result, String operation) {
        if (result != CUDA_SUCCESS) {
            String error = CUresult.stringFor(result);
            throw new CudaException(operation + " failed with " + error + " on " + (info == null ? "device" : info.name()),
                    error, STICKY.contains(result));
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Every step is tried even after an earlier one failed (a sticky error fails most); failures are logged.
        logFailure(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        logFailure(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        if (blas != null) {
            blas.close();
        }
        modules.values().forEach(m -> logFailure(JCudaDriver.cuModuleUnload(m), "cuModuleUnload"));
        logFailure(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy");
        logFailure(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }

    private void logFailure(int result, String operation) {
        if (result != CUDA_SUCCESS) {
            LOG.warn("{}: {} failed with {}", info == null ? "the CUDA device" : info.name(), operation,
                    CUresult.stringFor(result));
        }
    }

    /** Loads JCuda's native driver binding once; a failure is the same reason for every later open. */
    private static final class Driver {
        static final String PROBLEM = load();

        private static String load() {
            try {
                JCudaDriver.setExceptionsEnabled(false);
                return null;
            } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
                String message = String.valueOf(e.getMessage());
                return message.contains("libcuda") ? "no CUDA driver: libcuda.so.1 is missing"
                        : "JCuda's native library did not load: " + message.lines().findFirst().orElse("");
            }
        }
    }

    /** A JCuda device pointer. */
    private record Address(CUdeviceptr pointer) implements DevicePointer {
        @Override
        public DevicePointer plus(long bytes) {
            return new Address(pointer.withByteOffset(bytes));
        }
    }
}
