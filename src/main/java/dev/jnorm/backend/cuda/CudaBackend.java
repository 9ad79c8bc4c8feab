package dev.jnorm.backend.cuda;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.DeviceAllocator;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.backend.cuda.internal.GpuDevice;
import dev.jnorm.backend.cuda.internal.JCudaDevice;
import dev.jnorm.backend.cuda.internal.Kernels;
import dev.jnorm.backend.cuda.internal.Kernel;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.driver.CUdeviceptr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GPU backend: float32 tensors in device memory, each operation a short sequence of the
 * kernels in {@code cuda-kernels/} on one stream (see each kernel file's header for the algorithm).
 *
 * <p>Every public method is synchronized and makes the device's context current first, so the
 * backend may be used from any Java thread. A CUDA error is rethrown with the operation, the
 * input's shape and the device; after a sticky error (such as an illegal address) every later call
 * fails fast. Out of memory is recoverable: the failed call frees what it took. Device tensors are
 * {@link AutoCloseable}; one that is garbage-collected unclosed is logged as a leak and freed.
 */
public final class CudaBackend implements Backend {
    private static final Logger LOG = LoggerFactory.getLogger(CudaBackend.class);
    private static final Cleaner CLEANER = Cleaner.create();
    private static final boolean TRACK_ALLOCATIONS = Boolean.getBoolean("jnorm.cuda.trackAllocations");
    /**
     * Debug mode, for tests: new uninitialized tensors are filled with NaN, so that an element no
     * kernel writes shows, and allocated exactly and uncached, so that a device that guards the end
     * of each allocation catches a write past a tensor.
     */
    private final boolean debug = Boolean.getBoolean("jnorm.cuda.debug");
    /** The system property that turns on {@link #syncEachLaunch()} for backends made without saying. */
    public static final String SYNC_PROPERTY = "jnorm.cuda.sync";
    private final boolean syncEachLaunch;
    private final GpuDevice device;
    private final DeviceInfo info;
    private final DeviceAllocator allocator;
    private final NetworkOps network;
    private final CudaKit kit;
    private final AtomicLong liveTensors = new AtomicLong();
    private final AtomicLong leakedTensors = new AtomicLong();
    private final Map<String, MemoryTraffic> trafficByOperation = new LinkedHashMap<>();
    private CudaException poisonedBy;
    /** While an op runs on float32 copies of its 16-bit data: each 16-bit tensor's copy. */
    private Map<Tensor, DeviceTensor> shadows;
    private boolean closed;

    /**
     * A backend on {@code device}, which it owns and closes.
     *
     * @param device a GPU, or the kernel emulator (the device classes are internal: for tests and tools)
     */
    public CudaBackend(GpuDevice device) {
        this(device, Boolean.getBoolean(SYNC_PROPERTY));
    }

    /**
     * A backend on {@code device}, which it owns and closes; {@code syncEachLaunch}: see {@link #syncEachLaunch()}.
     *
     * @param device a GPU, or the kernel emulator
     * @param syncEachLaunch wait for each kernel
     */
    public CudaBackend(GpuDevice device, boolean syncEachLaunch) {
        this.device = device;
        this.syncEachLaunch = syncEachLaunch;
        this.info = device.info();
        this.allocator = new DeviceAllocator(device, !debug);
        this.kit = new CudaKit(device, allocator, this::launch, this::pointer, t -> resolve(t).aligned16(),
                t -> resolve(t).dtype());
        this.network = new CudaNetworkOps(this, device, kit);
    }

    /**
     * The backend on CUDA device 0.
     *
     * @return the backend
     * @throws CudaUnavailableException saying why there is none
     */
    public static CudaBackend open() {
        return new CudaBackend(JCudaDevice.open(0));
    }

    /**
     * The backend on CUDA device 0; {@code syncEachLaunch}: see {@link #syncEachLaunch()}.
     *
     * @param syncEachLaunch wait for each kernel
     * @return the backend
     * @throws CudaUnavailableException saying why there is none
     */
    public static CudaBackend open(boolean syncEachLaunch) {
        return new CudaBackend(JCudaDevice.open(0), syncEachLaunch);
    }

    /**
     * The backend on CUDA device {@code ordinal} (one GPU per rank of a data-parallel job, say).
     *
     * @param ordinal the device's index, from 0
     * @return the backend
     * @throws CudaUnavailableException saying why there is none
     */
    public static CudaBackend open(int ordinal) {
        return new CudaBackend(JCudaDevice.open(ordinal), Boolean.getBoolean(SYNC_PROPERTY));
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        return "CUDA backend on " + info;
    }

    /**
     * The device's name, memory, SM count and limits.
     *
     * @return the device's properties
     */
    public DeviceInfo info() {
        return info;
    }

    /**
     * True when the device is the CPU emulator of the kernels rather than a GPU.
     *
     * @return whether this runs on the emulator
     */
    public boolean emulated() {
        return device instanceof EmulatedDevice;
    }

    @Override
    public NetworkOps network() {
        return network;
    }

    @Override
    public boolean supports(DType dtype) {
        return dtype == DType.FLOAT32 || dtype.sixteenBit();
    }

    /**
     * True in the debug mode that waits for each launch to finish, so that a kernel's fault is
     * reported by its own launch, naming the kernel and the operation; launches are otherwise
     * asynchronous, and a fault surfaces at a later call. Slow. On by {@value #SYNC_PROPERTY}.
     *
     * @return whether each launch is waited for
     */
    public boolean syncEachLaunch() {
        return syncEachLaunch;
    }

    /**
     * Global-memory bytes read and written by the kernels of each operation since the last
     * {@link #resetTraffic()}, by operation name ("rows forward", "channels backward", ...), for the
     * operations that launched kernels; empty where the device does not count traffic (a GPU; the
     * kernel emulator counts it).
     *
     * @return the traffic per operation, a copy
     */
    public synchronized Map<String, MemoryTraffic> trafficByOperation() {
        return new LinkedHashMap<>(trafficByOperation);
    }

    /**
     * Global-memory bytes read and written by each kernel since the backend opened, by the kernel's
     * name, where the device counts traffic (the kernel emulator); empty on a GPU.
     *
     * @return the traffic per kernel, a copy
     */
    public synchronized Map<String, MemoryTraffic> trafficByKernel() {
        Map<String, MemoryTraffic> byName = new TreeMap<>();
        if (device instanceof EmulatedDevice emulator) {
            emulator.trafficByKernel().forEach((kernel, traffic) -> byName.put(kernel.entry(), traffic));
        }
        return byName;
    }

    /**
     * Forgets the traffic counted so far by operation.
     */
    public synchronized void resetTraffic() {
        trafficByOperation.clear();
    }

    /**
     * Tensors allocated and not yet closed.
     *
     * @return their number
     */
    public long liveTensors() {
        return liveTensors.get();
    }

    /**
     * Tensors the garbage collector found unclosed.
     *
     * @return their number
     */
    public long leakedTensors() {
        return leakedTensors.get();
    }

    // ---- memory ----

    @Override
    public synchronized Tensor allocate(Shape shape, DType dtype) {
        Tensor t = empty(shape, dtype);
        fill(t, 0);
        return t;
    }

    @Override
    public synchronized Tensor empty(Shape shape, DType dtype) {
        if (!supports(dtype)) {
            throw new IllegalArgumentException("the cuda backend holds float32, float16 and bfloat16 tensors, not "
                    + dtype);
        }
        enter();
        long bytes = (long) dtype.bytes() * shape.numel();
        DevicePointer p;
        try {
            p = allocator.allocate(bytes);
        } catch (CudaException e) {
            throw failure(e, "allocate", shape);
        }
        Allocation allocation = new Allocation(this, p, bytes, shape,
                TRACK_ALLOCATIONS ? new Throwable("allocated here") : null);
        DeviceTensor t = new DeviceTensor(this, shape, dtype, p, 0, allocation::closeExplicitly, null);
        allocation.cleanable = CLEANER.register(t, allocation);
        liveTensors.incrementAndGet();
        if (debug && t.numel() > 0) {
            fill(t, Double.NaN);
        }
        return t;
    }

    /**
     * Wraps device memory the caller allocated with JCuda, without copying; closing the tensor
     * does not free it. Its alignment is unknown, so kernels use scalar loads on it.
     *
     * @param memory the caller's device memory, at least the shape's bytes in the backend's dtype
     * @param shape the tensor's shape
     * @return the tensor, a float32 view of the memory
     */
    public synchronized Tensor wrap(CUdeviceptr memory, Shape shape) {
        if (!(device instanceof JCudaDevice)) {
            throw new IllegalArgumentException("JCuda memory can only be wrapped on a JCuda device");
        }
        return new DeviceTensor(this, shape, DType.FLOAT32, JCudaDevice.pointer(memory), -1, null, null);
    }

    @Override
    public synchronized Tensor upload(float[] values, Shape shape) {
        Tensor t = empty(shape, DType.FLOAT32);
        t.copyFrom(values);
        return t;
    }

    @Override
    public Tensor upload(double[] values, Shape shape) {
        throw new IllegalArgumentException("the cuda backend holds float32, float16 and bfloat16 tensors, not float64");
    }

    @Override
    public synchronized void fill(Tensor t, double value) {
        if (t.numel() == 0) {
            return;
        }
        if (t.dtype().sixteenBit()) {
            guard("fill", t.shape(), () -> device.fill16(pointer(t), t.dtype().toBits(value), t.numel()));
        } else {
            guard("fill", t.shape(), () -> device.fill32(pointer(t), Float.floatToRawIntBits((float) value), t.numel()));
        }
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        if (src.numel() != dst.numel()) {
            throw new IllegalArgumentException("copy of " + src.shape() + " into " + dst.shape());
        }
        if (src.numel() == 0) {
            return;
        }
        if (src.dtype() == dst.dtype()) {
            guard("copy", src.shape(), () -> device.copy(pointer(dst), pointer(src),
                    (long) src.dtype().bytes() * src.numel()));
        } else if (dst.dtype() == DType.FLOAT32 || src.dtype() == DType.FLOAT32) { // widened, or rounded once
            guard("copy", src.shape(), () -> convert(src, dst, dst.dtype() == DType.FLOAT32));
        } else { // float16 <-> bfloat16, through float32 (exact), rounded once
            try (Tensor wide = empty(src.shape(), DType.FLOAT32)) {
                guard("copy", src.shape(), () -> {
                    convert(src, wide, true);
                    convert(wide, dst, false);
                });
            }
        }
    }

    synchronized float[] download(DeviceTensor t) {
        float[] out = new float[DeviceTensor.hostLength(t)];
        if (out.length > 0) {
            guard("download", t.shape(), () -> device.download(t.pointer(), out, 0, out.length));
        }
        return out;
    }

    synchronized short[] download16(DeviceTensor t) {
        short[] out = new short[DeviceTensor.hostLength(t)];
        if (out.length > 0) {
            guard("download", t.shape(), () -> device.download16(t.pointer(), out, 0, out.length));
        }
        return out;
    }

    synchronized void upload16(DeviceTensor t, short[] values) {
        if (values.length > 0) {
            guard("upload", t.shape(), () -> device.upload16(t.pointer(), values, 0, values.length));
        }
    }

    synchronized void upload(DeviceTensor t, float[] values) {
        if (values.length > 0) {
            guard("upload", t.shape(), () -> device.upload(t.pointer(), values, 0, values.length));
        }
    }

    /** Waits until every queued operation has finished. */
    public synchronized void synchronize() {
        guard("synchronize", Shape.of(), device::synchronize);
    }

    /**
     * The device time of what {@code work} queues on this backend, measured with CUDA events.
     *
     * @param work what to time
     * @return milliseconds of device time
     */
    public synchronized double timeMillis(Runnable work) {
        double[] millis = new double[1];
        guard("timing", Shape.of(), () -> millis[0] = device.timeMillis(work));
        return millis[0];
    }

    /** Overwrites a buffer twice the size of the L2 cache, so that the next operation starts cold. */
    public synchronized void flushL2() {
        long bytes = 2 * Math.max(info.l2CacheBytes(), 1 << 20);
        guard("L2 flush", Shape.of(bytes / 4), () -> {
            DevicePointer p = allocator.allocate(bytes);
            try {
                device.fill32(p, 0, bytes / 4);
            } finally {
                allocator.release(p, bytes);
            }
        });
    }

    // ---- the norms ----

    /** Runs a norm's launch plan, naming the pass, the input's shape and the device in any error. */
    @Override
    public synchronized void run(NormOp op) {
        Map<Tensor, Boolean> sixteenBit = op.sixteenBitKernels() ? Map.of() : SixteenBitData.of(op);
        if (sixteenBit.isEmpty()) {
            guard(op.name(), op.shape(), () -> op.launch(kit));
            return;
        }
        // An op without 16-bit kernels runs its float32 kernels on float32 copies of its 16-bit data,
        // its inputs widened before (exact), its outputs rounded back after (once, to nearest even).
        List<DeviceTensor> wide = new ArrayList<>();
        try {
            guard(op.name(), op.shape(), () -> {
                shadows = new IdentityHashMap<>();
                sixteenBit.forEach((t, written) -> {
                    DeviceTensor f32 = (DeviceTensor) empty(t.shape(), DType.FLOAT32);
                    wide.add(f32);
                    if (!written) { // an output (y, dx) is written whole: nothing to widen
                        convert(t, f32, true);
                    }
                    shadows.put(t, f32);
                });
                op.launch(kit);
                Map<Tensor, DeviceTensor> copies = shadows;
                shadows = null; // the 16-bit tensors themselves again
                sixteenBit.forEach((t, written) -> {
                    if (written) {
                        convert(copies.get(t), t, false);
                    }
                });
            });
        } finally {
            shadows = null;
            wide.forEach(Tensor::close);
        }
    }

    /** Widens 16-bit {@code from} into float32 {@code to}, or narrows float32 {@code from} into 16-bit {@code to}. */
    private void convert(Tensor from, Tensor to, boolean widen) {
        long n = from.numel();
        if (widen) {
            CudaKit.byStorage(from.dtype(), null, Kernels.widenF16(), Kernels.widenBf16()).x(pointer(from))
                    .y(pointer(to)).n(n).launch(kit.launcher(), kit.grid(n));
        } else {
            CudaKit.byStorage(to.dtype(), null, Kernels.narrowF16(), Kernels.narrowBf16()).x(pointer(from))
                    .y(pointer(to)).n(n).launch(kit.launcher(), kit.grid(n));
        }
    }

    /** The building blocks of the launch plans on this device. */
    CudaKit kit() {
        return kit;
    }

    /**
     * Queues a kernel; in sync mode waits for it, so that a fault names it. The launch
     * classes of {@link dev.jnorm.backend.cuda.internal.Kernels} come here.
     */
    void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
        device.launch(kernel, grid, block, sharedBytes, args);
        if (syncEachLaunch) {
            try {
                device.synchronize();
            } catch (CudaException e) {
                throw e.in("kernel " + kernel.entry());
            }
        }
    }

    DevicePointer pointer(Tensor t) {
        return t == null ? null : resolve(t).pointer();
    }

    /** The device tensor {@code t} is, or its float32 copy while an op runs on copies of 16-bit data. */
    private DeviceTensor resolve(Tensor t) {
        if (!(t instanceof DeviceTensor d) || d.backend() != this) {
            throw new IllegalArgumentException("tensor " + t + " does not belong to this cuda backend");
        }
        DeviceTensor shadow = shadows == null ? null : shadows.get(t);
        return shadow != null ? shadow : d;
    }

    // ---- errors and lifecycle ----

    private void enter() {
        if (closed) {
            throw new IllegalStateException("the cuda backend is closed");
        }
        if (poisonedBy != null) {
            throw new IllegalStateException("the cuda backend is unusable after an earlier error: "
                    + poisonedBy.getMessage(), poisonedBy);
        }
        device.makeCurrent();
    }

    /**
     * Runs {@code body} on the device, turning CUDA errors into exceptions that say where, and
     * counting the operation's memory traffic where the device counts it.
     */
    void guard(String operation, Shape shape, Runnable body) {
        enter();
        MemoryTraffic before = device.traffic();
        try {
            body.run();
        } catch (CudaException e) {
            throw failure(e, operation, shape);
        } finally {
            MemoryTraffic moved = before == null ? MemoryTraffic.NONE : device.traffic().minus(before);
            if (moved.total() > 0) {
                trafficByOperation.merge(operation, moved, MemoryTraffic::plus);
            }
        }
    }

    private CudaException failure(CudaException e, String operation, Shape shape) {
        CudaException wrapped = e.in(operation + " of " + shape + " on " + info.name());
        if (e.sticky()) {
            if (!syncEachLaunch) {
                wrapped = wrapped.in("", " (kernels run asynchronously, so an earlier launch may have caused it; "
                        + "set -D" + SYNC_PROPERTY + "=true, or --sync on the command line, to find which)");
            }
            poisonedBy = wrapped;
        }
        return wrapped;
    }

    /**
     * Runs a collective of another library (NCCL) on this backend's device: the context current,
     * every kernel queued so far finished first, errors reported as this backend's.
     */
    synchronized void collective(String operation, Shape shape, Runnable body) {
        guard(operation, shape, () -> {
            device.synchronize();
            body.run();
        });
    }

    /** True when this backend runs on a CUDA device (not on the kernel emulator). */
    boolean onCudaDevice() {
        return device instanceof dev.jnorm.backend.cuda.internal.JCudaDevice;
    }

    /** Returns a tensor's memory; may run on the cleaner's thread, so makes the context current first. */
    synchronized void releaseMemory(DevicePointer p, long bytes) {
        liveTensors.decrementAndGet();
        if (closed || poisonedBy != null) {
            return;
        }
        try {
            device.makeCurrent();
            allocator.release(p, bytes);
        } catch (CudaException e) {
            throw failure(e, "free", Shape.of(bytes / 4));
        }
    }

    /** Frees the device and everything on it; idempotent. Tensors from this backend are unusable after. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            if (poisonedBy == null) {
                allocator.releaseCached();
            }
        } finally {
            closed = true;
            device.close();
        }
    }

    /**
     * The memory of one owned tensor, freed once: by the tensor's close, or by the cleaner when the
     * tensor became unreachable unclosed, which is a leak and logged.
     */
    private static final class Allocation implements Runnable {
        private final CudaBackend backend;
        private final DevicePointer pointer;
        private final long bytes;
        private final Shape shape;
        private final Throwable site;
        private volatile boolean explicit;
        private Cleaner.Cleanable cleanable;

        Allocation(CudaBackend backend, DevicePointer pointer, long bytes, Shape shape, Throwable site) {
            this.backend = backend;
            this.pointer = pointer;
            this.bytes = bytes;
            this.shape = shape;
            this.site = site;
        }

        void closeExplicitly() {
            explicit = true;
            cleanable.clean();
        }

        @Override
        public void run() {
            if (!explicit) {
                backend.leakedTensors.incrementAndGet();
                LOG.warn("a cuda tensor of {} was never closed; freed by the garbage collector{}", shape,
                        site == null ? " (set -Djnorm.cuda.trackAllocations=true to see where it was allocated)" : "",
                        site);
            }
            backend.releaseMemory(pointer, bytes);
        }
    }
}
