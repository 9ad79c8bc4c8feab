package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.GpuDevice;
import dev.jnorm.backend.cuda.internal.JCudaDevice;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.backend.cuda.internal.DeviceAllocator;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernel;
import static dev.jnorm.backend.cuda.internal.Kernel.BIN_BACKWARD_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.BIN_FORWARD_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.CHANNEL_BACKWARD_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.CHANNEL_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.COLUMNS_SUMS_PARTIAL;
import static dev.jnorm.backend.cuda.internal.Kernel.COLUMNS_WELFORD_PARTIAL;
import static dev.jnorm.backend.cuda.internal.Kernel.GROUP_BACKWARD_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.INSTANCE_RUNNING_UPDATE;
import static dev.jnorm.backend.cuda.internal.Kernel.NC_APPLY;
import static dev.jnorm.backend.cuda.internal.Kernel.NC_APPLY_BACKWARD;
import static dev.jnorm.backend.cuda.internal.Kernel.NC_APPLY_BACKWARD_VEC;
import static dev.jnorm.backend.cuda.internal.Kernel.NC_APPLY_VEC;
import static dev.jnorm.backend.cuda.internal.Kernel.NC_PARAM_GRADS;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_APPLY;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_BACKWARD_BLOCK;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_BACKWARD_WARP;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_FORWARD_BLOCK;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_FORWARD_BLOCK_VEC;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_FORWARD_WARP;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_FORWARD_WARP_VEC;
import static dev.jnorm.backend.cuda.internal.Kernel.ROWS_PARAM_GRADS_PARTIAL;
import static dev.jnorm.backend.cuda.internal.Kernel.SEGMENTS_SUMS_PARTIAL;
import static dev.jnorm.backend.cuda.internal.Kernel.SEGMENTS_WELFORD_PARTIAL;
import static dev.jnorm.backend.cuda.internal.Kernel.RUNNING_UPDATE;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_BACKWARD_COEFFICIENTS;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_BACKWARD_MIXED;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_BACKWARD_SHARE;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_MERGE_STATS;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_LOGIT_GRADS;
import static dev.jnorm.backend.cuda.internal.Kernel.SN_MIX;
import static dev.jnorm.backend.cuda.internal.Kernel.SUMS_FINALIZE;
import static dev.jnorm.backend.cuda.internal.Kernel.SUMS_MERGE_PARTIALS;
import static dev.jnorm.backend.cuda.internal.Kernel.WEIGHT_NORM_BACKWARD;
import static dev.jnorm.backend.cuda.internal.Kernel.WEIGHT_NORM_FORWARD;
import static dev.jnorm.backend.cuda.internal.Kernel.WELFORD_FINALIZE;
import static dev.jnorm.backend.cuda.internal.Kernel.WELFORD_MERGE_PARTIALS;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
    static final int BLOCK = 256;
    private static final int WARP_ROW_MAX = 1024;
    /** Values of a (group, chunk) block of the statistics kernels: at least a block's worth... */
    private static final long MIN_CHUNK = 8192;
    /** ...and at most 256 per thread, so that no thread's own serial sum grows long (stats.cu). */
    private static final long MAX_CHUNK = 256L * BLOCK;
    /** Values one thread of the column kernels, or of the row parameter gradients, walks at most. */
    private static final long MAX_SERIAL = 256;
    /** Partials one lane, and one warp, merge in stats.cu's tree (MERGE_PER_LANE and MERGE_FAN_IN there). */
    private static final long MERGE_PER_LANE = 16;
    private static final long MERGE_FAN_IN = 32 * MERGE_PER_LANE;
    private static final long APPLY_TILE = 4096;

    private final GpuDevice device;
    private final DeviceInfo info;
    private final DeviceAllocator allocator;
    private final NetworkOps network;
    private final AtomicLong liveTensors = new AtomicLong();
    private final AtomicLong leakedTensors = new AtomicLong();
    private final Map<String, MemoryTraffic> trafficByOperation = new LinkedHashMap<>();
    private CudaException poisonedBy;
    private boolean closed;

    /** A backend on {@code device}, which it owns and closes. */
    public CudaBackend(GpuDevice device) {
        this(device, Boolean.getBoolean(SYNC_PROPERTY));
    }

    /** A backend on {@code device}, which it owns and closes; {@code syncEachLaunch}: see {@link #syncEachLaunch()}. */
    public CudaBackend(GpuDevice device, boolean syncEachLaunch) {
        this.device = device;
        this.syncEachLaunch = syncEachLaunch;
        this.info = device.info();
        this.allocator = new DeviceAllocator(device, !debug);
        this.network = new CudaNetworkOps(this, device);
    }

    /** The backend on CUDA device 0. @throws CudaUnavailableException saying why there is none */
    public static CudaBackend open() {
        return new CudaBackend(JCudaDevice.open(0));
    }

    /**
     * The backend on CUDA device 0; {@code syncEachLaunch}: see {@link #syncEachLaunch()}.
     *
     * @throws CudaUnavailableException saying why there is none
     */
    public static CudaBackend open(boolean syncEachLaunch) {
        return new CudaBackend(JCudaDevice.open(0), syncEachLaunch);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        return "CUDA backend on " + info;
    }

    public DeviceInfo info() {
        return info;
    }

    /** True when the device is the CPU emulator of the kernels rather than a GPU. */
    public boolean emulated() {
        return device instanceof EmulatedDevice;
    }

    @Override
    public NetworkOps network() {
        return network;
    }

    @Override
    public boolean supports(DType dtype) {
        return dtype == DType.FLOAT32;
    }

    /**
     * True in the debug mode that waits for each launch to finish, so that a kernel's fault is
     * reported by its own launch, naming the kernel and the operation; launches are otherwise
     * asynchronous, and a fault surfaces at a later call. Slow. On by {@value #SYNC_PROPERTY}.
     */
    public boolean syncEachLaunch() {
        return syncEachLaunch;
    }

    /**
     * Global-memory bytes read and written by the kernels of each operation since the last
     * {@link #resetTraffic()}, by operation name ("rows forward", "channels backward", ...), for the
     * operations that launched kernels; empty where the device does not count traffic (a GPU; the
     * kernel emulator counts it).
     */
    public synchronized Map<String, MemoryTraffic> trafficByOperation() {
        return new LinkedHashMap<>(trafficByOperation);
    }

    public synchronized void resetTraffic() {
        trafficByOperation.clear();
    }

    /** Tensors allocated and not yet closed. */
    public long liveTensors() {
        return liveTensors.get();
    }

    /** Tensors the garbage collector found unclosed. */
    public long leakedTensors() {
        return leakedTensors.get();
    }

    // ---- memory ----

    @Override
    public synchronized Tensor allocate(Shape shape, DType dtype) {
        Tensor t = empty(shape, dtype);
        if (t.numel() > 0) {
            guard("allocate", shape, () -> device.fill32(pointer(t), 0, t.numel()));
        }
        return t;
    }

    @Override
    public synchronized Tensor empty(Shape shape, DType dtype) {
        if (dtype != DType.FLOAT32) {
            throw new IllegalArgumentException("the cuda backend holds float32 tensors only, not " + dtype);
        }
        enter();
        long bytes = 4 * shape.numel();
        DevicePointer p;
        try {
            p = allocator.allocate(bytes);
        } catch (CudaException e) {
            throw failure(e, "allocate", shape);
        }
        Allocation allocation = new Allocation(this, p, bytes, shape,
                TRACK_ALLOCATIONS ? new Throwable("allocated here") : null);
        DeviceTensor t = new DeviceTensor(this, shape, p, 0, allocation::closeExplicitly, null);
        allocation.cleanable = CLEANER.register(t, allocation);
        liveTensors.incrementAndGet();
        if (debug && t.numel() > 0) {
            guard("fill with NaN", shape, () -> device.fill32(p, Float.floatToRawIntBits(Float.NaN), t.numel()));
        }
        return t;
    }

    /**
     * Wraps device memory the caller allocated with JCuda, without copying; closing the tensor
     * does not free it. Its alignment is unknown, so kernels use scalar loads on it.
     */
    public synchronized Tensor wrap(CUdeviceptr memory, Shape shape) {
        if (!(device instanceof JCudaDevice)) {
            throw new IllegalArgumentException("JCuda memory can only be wrapped on a JCuda device");
        }
        return new DeviceTensor(this, shape, JCudaDevice.pointer(memory), -1, null, null);
    }

    @Override
    public synchronized Tensor upload(float[] values, Shape shape) {
        Tensor t = empty(shape, DType.FLOAT32);
        t.copyFrom(values);
        return t;
    }

    @Override
    public Tensor upload(double[] values, Shape shape) {
        throw new IllegalArgumentException("the cuda backend holds float32 tensors only, not float64");
    }

    @Override
    public synchronized void fill(Tensor t, double value) {
        if (t.numel() > 0) {
            guard("fill", t.shape(), () -> device.fill32(pointer(t), Float.floatToRawIntBits((float) value), t.numel()));
        }
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        if (src.numel() != dst.numel()) {
            throw new IllegalArgumentException("copy of " + src.shape() + " into " + dst.shape());
        }
        if (src.numel() > 0) {
            guard("copy", src.shape(), () -> device.copy(pointer(dst), pointer(src), 4 * src.numel()));
        }
    }

    synchronized float[] download(DeviceTensor t) {
        float[] out = new float[DeviceTensor.hostLength(t)];
        if (out.length > 0) {
            guard("download", t.shape(), () -> device.download(t.pointer(), out, 0, out.length));
        }
        return out;
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

    /** The device time of what {@code work} queues on this backend, measured with CUDA events. */
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

    // ---- rows family ----

    @Override
    public synchronized void rowsForward(RowsLayout l, double eps, Tensor x, Tensor weight, Tensor bias, Tensor y,
                                         Tensor saveMean, Tensor saveRstd, RunningStats running, double factor) {
        guard("rows forward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                DevicePointer var = running != null ? s.floats(l.rows()) : null;
                int perChannel = l.affine() == RowsLayout.Affine.PER_CHANNEL ? 1 : 0;
                long length = l.length();
                boolean vec = length % 4 == 0 && aligned(x, y);
                Object[] common = {pointer(x), pointer(y), pointer(weight), pointer(bias), perChannel, l.channels(),
                    l.spatial(), pointer(saveMean), pointer(saveRstd), var, l.rows(), (int) Math.min(length,
                    Integer.MAX_VALUE), (float) eps, l.centered() ? 1 : 0};
                if (length <= WARP_ROW_MAX) {
                    launch(vec ? ROWS_FORWARD_WARP_VEC : ROWS_FORWARD_WARP, blocks(ceilDiv(l.rows(), BLOCK / 32)), BLOCK,
                            0, common);
                } else if (4 * length <= info.sharedMemoryPerBlock() - 1024) {
                    launch(vec ? ROWS_FORWARD_BLOCK_VEC : ROWS_FORWARD_BLOCK, itemBlocks(l.rows()), BLOCK,
                            (int) (4 * length), common);
                } else {
                    segmentStats(s, pointer(x), l.rows(), length, 1, length, 0, eps, !l.centered(), pointer(saveMean),
                            var, pointer(saveRstd), null, 0);
                    launch(ROWS_APPLY, itemBlocks(l.rows() * ceilDiv(length, APPLY_TILE)), BLOCK, 0, pointer(x),
                            pointer(y), pointer(weight), pointer(bias), perChannel, l.channels(), l.spatial(),
                            pointer(saveMean), pointer(saveRstd), l.rows(), length);
                }
                if (running != null) {
                    long c = l.channels();
                    launch(INSTANCE_RUNNING_UPDATE, grid(c), BLOCK, 0, pointer(saveMean), var, l.rows() / c, c,
                            l.spatial(), (float) factor, pointer(running.mean()), pointer(running.var()));
                }
            }
        });
    }

    @Override
    public synchronized void rowsBackward(RowsLayout l, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd,
                                          Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias) {
        guard("rows backward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                if (l.affine() == RowsLayout.Affine.PER_CHANNEL) {
                    groupBackward(s, l, x, dy, saveMean, saveRstd, weight, dx, gradWeight, gradBias);
                    return;
                }
                long rows = l.rows();
                long length = l.length();
                if (length <= WARP_ROW_MAX) {
                    launch(ROWS_BACKWARD_WARP, blocks(ceilDiv(rows, BLOCK / 32)), BLOCK, 0, pointer(x), pointer(dy),
                            pointer(saveMean), pointer(saveRstd), pointer(weight), pointer(dx), rows, (int) length,
                            l.centered() ? 1 : 0);
                } else {
                    launch(ROWS_BACKWARD_BLOCK, itemBlocks(rows), BLOCK, 0, pointer(x), pointer(dy), pointer(saveMean),
                            pointer(saveRstd), pointer(weight), pointer(dx), rows, length, l.centered() ? 1 : 0);
                }
                if (gradWeight != null || gradBias != null) {
                    long chunks = clamp(Math.max(ceilDiv(threadsToFill(), length), ceilDiv(rows, MAX_SERIAL)), 1, rows);
                    DevicePointer partials = s.floats(2 * length * chunks);
                    launch(ROWS_PARAM_GRADS_PARTIAL, grid(length * chunks), BLOCK, 0, pointer(x),
                            pointer(dy), pointer(saveMean), pointer(saveRstd), rows, length, chunks, partials);
                    finalizeSums(s, partials, length, chunks, pointer(gradWeight), pointer(gradBias), true);
                }
            }
        });
    }

    /** InstanceNorm and GroupNorm backward through per-(n, c) sums; rows are (n, group) of C/G channels. */
    private void groupBackward(Scratch s, RowsLayout l, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd,
                               Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias) {
        long c = l.channels();
        long sp = l.spatial();
        long perGroup = l.length() / sp;
        long groups = c / perGroup;
        NcsLayout nc = new NcsLayout(l.rows() / groups, c, sp);
        long q = nc.n() * c;
        DevicePointer sumDy = s.floats(q);
        DevicePointer sumDyX = s.floats(q);
        instanceSums(s, pointer(x), pointer(dy), pointer(saveMean), perGroup, nc, sumDy, sumDyX);
        DevicePointer a = s.floats(q);
        DevicePointer b = s.floats(q);
        DevicePointer d = s.floats(q);
        launch(GROUP_BACKWARD_COEFFICIENTS, grid(l.rows()), BLOCK, 0, sumDy, sumDyX,
                pointer(saveRstd), pointer(weight), nc.n(), c, groups, sp, a, b, d);
        applyBackward(dy, x, a, b, pointer(saveMean), perGroup, d, dx, nc, true);
        if (gradWeight != null || gradBias != null) {
            launch(NC_PARAM_GRADS, grid(c), BLOCK, 0, sumDy, sumDyX, pointer(saveRstd), perGroup,
                    nc.n(), c, pointer(gradWeight), pointer(gradBias));
        }
    }

    // ---- channels family ----

    @Override
    public synchronized void channelsForward(NcsLayout l, double eps, boolean batchStatistics, Tensor x,
                                             Tensor weight, Tensor bias, Tensor y, Tensor saveMean, Tensor saveRstd,
                                             RunningStats running, double factor) {
        guard("channels forward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                DevicePointer a = s.floats(l.c());
                DevicePointer d = s.floats(l.c());
                batchOrRunningStatistics(s, l, eps, batchStatistics, pointer(x), pointer(saveMean), pointer(saveRstd),
                        running, factor);
                launch(CHANNEL_COEFFICIENTS, grid(l.c()), BLOCK, 0, pointer(saveMean),
                        pointer(saveRstd), null, null, (float) eps, pointer(weight), pointer(bias), l.c(), a, d);
                apply(x, y, a, pointer(saveMean), 1, d, l, false);
            }
        });
    }

    /**
     * Per-channel mean and rstd into {@code mean}, {@code rstd}: the batch's (updating the running
     * statistics when given), or the running statistics'.
     */
    private void batchOrRunningStatistics(Scratch s, NcsLayout l, double eps, boolean batchStatistics,
                                          DevicePointer x, DevicePointer mean, DevicePointer rstd,
                                          RunningStats running, double factor) {
        if (batchStatistics) {
            channelStats(s, x, l, eps, mean, rstd, running, factor);
        } else {
            launch(CHANNEL_COEFFICIENTS, grid(l.c()), BLOCK, 0, mean, rstd, pointer(running.mean()),
                    pointer(running.var()), (float) eps, null, null, l.c(), null, null);
        }
    }

    @Override
    public synchronized void channelsBackward(NcsLayout l, boolean batchStatistics, Tensor x, Tensor dy,
                                              Tensor saveMean, Tensor saveRstd, Tensor weight, Tensor dx,
                                              Tensor gradWeight, Tensor gradBias) {
        guard("channels backward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                DevicePointer sumDy = s.floats(l.c());
                DevicePointer sumDyX = s.floats(l.c());
                channelSums(s, pointer(x), pointer(dy), pointer(saveMean), l, sumDy, sumDyX);
                DevicePointer a = s.floats(l.c());
                DevicePointer b = s.floats(l.c());
                DevicePointer d = s.floats(l.c());
                launch(CHANNEL_BACKWARD_COEFFICIENTS, grid(l.c()), BLOCK, 0, sumDy, sumDyX,
                        pointer(saveRstd), pointer(weight), l.c(), l.n() * l.s(), batchStatistics ? 1 : 0, a, b, d,
                        pointer(gradWeight), pointer(gradBias));
                applyBackward(dy, x, a, b, pointer(saveMean), 1, d, dx, l, false);
            }
        });
    }

    // ---- WeightNorm ----

    @Override
    public synchronized void weightNormForward(NcsLayout l, Tensor v, Tensor g, Tensor w, Tensor saveNorm) {
        guard("weight norm forward", v.shape(), () -> launch(WEIGHT_NORM_FORWARD, itemBlocks(l.c()), BLOCK, 0,
                pointer(v), pointer(g), pointer(w), pointer(saveNorm), l.n(), l.c(), l.s()));
    }

    @Override
    public synchronized void weightNormBackward(NcsLayout l, Tensor v, Tensor g, Tensor saveNorm, Tensor dw,
                                                Tensor gradV, Tensor gradG) {
        guard("weight norm backward", v.shape(), () -> launch(WEIGHT_NORM_BACKWARD, itemBlocks(l.c()), BLOCK, 0,
                pointer(v), pointer(g), pointer(saveNorm), pointer(dw), pointer(gradV), pointer(gradG), l.n(), l.c(),
                l.s()));
    }

    // ---- composites ----

    @Override
    public synchronized void batchInstanceForward(NcsLayout l, double eps, boolean batchStatistics, Tensor x,
                                                  Tensor rho, Tensor weight, Tensor bias, Tensor y,
                                                  BatchInstanceStats saved, RunningStats running, double factor) {
        guard("batch-instance forward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                batchOrRunningStatistics(s, l, eps, batchStatistics, pointer(x), pointer(saved.batchMean()),
                        pointer(saved.batchRstd()), running, factor);
                instanceStats(s, pointer(x), l, eps, pointer(saved.instanceMean()), null, pointer(saved.instanceRstd()));
                long q = l.n() * l.c();
                DevicePointer a = s.floats(q);
                DevicePointer d = s.floats(q);
                launch(BIN_FORWARD_COEFFICIENTS, grid(q), BLOCK, 0, pointer(saved.batchMean()),
                        pointer(saved.batchRstd()), pointer(saved.instanceMean()), pointer(saved.instanceRstd()),
                        pointer(rho), pointer(weight), pointer(bias), l.n(), l.c(), a, d);
                apply(x, y, a, pointer(saved.instanceMean()), 1, d, l, true);
            }
        });
    }

    @Override
    public synchronized void batchInstanceBackward(NcsLayout l, boolean batchStatistics, Tensor x, Tensor dy,
                                                   BatchInstanceStats saved, Tensor rho, Tensor weight, Tensor dx,
                                                   Tensor gradRho, Tensor gradWeight, Tensor gradBias) {
        guard("batch-instance backward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                long q = l.n() * l.c();
                DevicePointer sumDy = s.floats(q);
                DevicePointer sumDyX = s.floats(q);
                instanceSums(s, pointer(x), pointer(dy), pointer(saved.instanceMean()), 1, l, sumDy, sumDyX);
                DevicePointer a = s.floats(q);
                DevicePointer b = s.floats(q);
                DevicePointer d = s.floats(q);
                launch(BIN_BACKWARD_COEFFICIENTS, grid(l.c()), BLOCK, 0, sumDy, sumDyX,
                        pointer(saved.batchMean()), pointer(saved.batchRstd()), pointer(saved.instanceMean()),
                        pointer(saved.instanceRstd()), pointer(rho), pointer(weight), l.n(), l.c(), l.s(),
                        batchStatistics ? 1 : 0, a, b, d, pointer(gradRho), pointer(gradWeight), pointer(gradBias));
                applyBackward(dy, x, a, b, pointer(saved.instanceMean()), 1, d, dx, l, true);
            }
        });
    }

    @Override
    public synchronized void switchableForward(NcsLayout l, double eps, boolean batchStatistics, Tensor x,
                                               Tensor meanWeight, Tensor varWeight, Tensor weight, Tensor bias,
                                               Tensor y, SwitchableStats saved, RunningStats running, double factor) {
        guard("switchable forward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                long q = l.n() * l.c();
                instanceStats(s, pointer(x), l, eps, pointer(saved.instanceMean()), pointer(saved.instanceVar()), null);
                launch(SN_MERGE_STATS, grid(l.n()), BLOCK, 0, pointer(saved.instanceMean()),
                        pointer(saved.instanceVar()), l.n(), l.c(), l.c(), 1L, pointer(saved.layerMean()),
                        pointer(saved.layerVar()));
                if (batchStatistics) {
                    launch(SN_MERGE_STATS, grid(l.c()), BLOCK, 0, pointer(saved.instanceMean()),
                            pointer(saved.instanceVar()), l.c(), l.n(), 1L, l.c(), pointer(saved.batchMean()),
                            pointer(saved.batchVar()));
                    if (running != null) {
                        launch(RUNNING_UPDATE, grid(l.c()), BLOCK, 0, pointer(saved.batchMean()),
                                pointer(saved.batchVar()), l.c(), l.n() * l.s(), (float) factor,
                                pointer(running.mean()), pointer(running.var()));
                    }
                } else {
                    device.copy(pointer(saved.batchMean()), pointer(running.mean()), 4 * l.c());
                    device.copy(pointer(saved.batchVar()), pointer(running.var()), 4 * l.c());
                }
                DevicePointer a = s.floats(q);
                DevicePointer d = s.floats(q);
                launch(SN_MIX, grid(q), BLOCK, 0, pointer(saved.instanceMean()),
                        pointer(saved.instanceVar()), pointer(saved.layerMean()), pointer(saved.layerVar()),
                        pointer(saved.batchMean()), pointer(saved.batchVar()), pointer(meanWeight), pointer(varWeight),
                        pointer(weight), pointer(bias), (float) eps, l.n(), l.c(), pointer(saved.mean()),
                        pointer(saved.rstd()), a, d);
                apply(x, y, a, pointer(saved.mean()), 1, d, l, true);
            }
        });
    }

    @Override
    public synchronized void switchableBackward(NcsLayout l, boolean batchStatistics, Tensor x, Tensor dy,
                                                SwitchableStats saved, Tensor meanWeight, Tensor varWeight,
                                                Tensor weight, Tensor dx, Tensor gradMeanWeight, Tensor gradVarWeight,
                                                Tensor gradWeight, Tensor gradBias) {
        guard("switchable backward", x.shape(), () -> {
            try (Scratch s = new Scratch()) {
                long n = l.n();
                long c = l.c();
                long q = n * c;
                DevicePointer sumDy = s.floats(q);
                DevicePointer sumDyX = s.floats(q);
                instanceSums(s, pointer(x), pointer(dy), pointer(saved.mean()), 1, l, sumDy, sumDyX);
                DevicePointer dMean = s.floats(q);
                DevicePointer dVar = s.floats(q);
                launch(SN_BACKWARD_MIXED, grid(q), BLOCK, 0, sumDy, sumDyX, pointer(saved.rstd()),
                        pointer(weight), n, c, dMean, dVar);
                DevicePointer dLnMean = s.floats(n);
                DevicePointer dLnVar = s.floats(n);
                launch(SN_BACKWARD_SHARE, grid(n), BLOCK, 0, dMean, dVar, pointer(meanWeight),
                        pointer(varWeight), 1, n, c, c, 1L, dLnMean, dLnVar);
                DevicePointer dBnMean = null;
                DevicePointer dBnVar = null;
                if (batchStatistics) {
                    dBnMean = s.floats(c);
                    dBnVar = s.floats(c);
                    launch(SN_BACKWARD_SHARE, grid(c), BLOCK, 0, dMean, dVar, pointer(meanWeight),
                            pointer(varWeight), 2, c, n, 1L, c, dBnMean, dBnVar);
                }
                DevicePointer a = s.floats(q);
                DevicePointer b = s.floats(q);
                DevicePointer d = s.floats(q);
                launch(SN_BACKWARD_COEFFICIENTS, grid(q), BLOCK, 0, dMean, dVar, dLnMean, dLnVar,
                        dBnMean, dBnVar, pointer(saved.instanceMean()), pointer(saved.layerMean()),
                        pointer(saved.batchMean()), pointer(saved.rstd()), pointer(weight), pointer(meanWeight),
                        pointer(varWeight), n, c, l.s(), batchStatistics ? 1 : 0, a, b, d);
                applyBackward(dy, x, a, b, pointer(saved.instanceMean()), 1, d, dx, l, true);
                if (gradWeight != null || gradBias != null) {
                    launch(NC_PARAM_GRADS, grid(c), BLOCK, 0, sumDy, sumDyX, pointer(saved.rstd()),
                            1L, n, c, pointer(gradWeight), pointer(gradBias));
                }
                launch(SN_LOGIT_GRADS, 1, 1024, 0, dMean, dVar, pointer(saved.instanceMean()),
                        pointer(saved.instanceVar()), pointer(saved.layerMean()), pointer(saved.layerVar()),
                        pointer(saved.batchMean()), pointer(saved.batchVar()), pointer(meanWeight), pointer(varWeight),
                        n, c, pointer(gradMeanWeight), pointer(gradVarWeight));
            }
        });
    }

    // ---- shared steps ----

    /**
     * Mean, biased variance and rstd (each optional) of groups of segments, split across blocks
     * (stats.cu); the running statistics, when given, are updated with the unbiased variance.
     */
    private void segmentStats(Scratch s, DevicePointer x, long groups, long groupStride, long count, long length,
                              long segStride, double eps, boolean rms, DevicePointer mean, DevicePointer var,
                              DevicePointer rstd, RunningStats running, double factor) {
        long total = count * length;
        long chunks = segmentChunks(groups, total);
        DevicePointer partials = s.floats(2 * groups * chunks);
        launch(SEGMENTS_WELFORD_PARTIAL, itemBlocks(groups * chunks), BLOCK, 0, x, groups, groupStride, count, length,
                segStride, chunks, partials);
        finalizeStats(s, partials, groups, chunks, total, 1, eps, rms, mean, var, rstd, running, factor);
    }

    /**
     * Merges each group's {@code chunks} Welford partials (of {@code units} units of {@code unit}
     * values, as stage 1 cut them) in stats.cu's fixed tree, a level per launch while a group has more
     * than one warp merges, then writes the statistics.
     */
    private void finalizeStats(Scratch s, DevicePointer partials, long groups, long chunks, long units, long unit,
                               double eps, boolean rms, DevicePointer mean, DevicePointer var, DevicePointer rstd,
                               RunningStats running, double factor) {
        long parts = chunks;
        long span = 1;
        while (parts > MERGE_FAN_IN) {
            long merged = ceilDiv(parts, MERGE_FAN_IN);
            DevicePointer next = s.floats(2 * groups * merged);
            launch(WELFORD_MERGE_PARTIALS, warps(groups * merged), BLOCK, 0, partials, groups, parts, span, chunks,
                    units, unit, next);
            partials = next;
            parts = merged;
            span *= MERGE_FAN_IN;
        }
        launch(WELFORD_FINALIZE, finalizeGrid(groups, parts), BLOCK, 0, partials, groups, parts, span, chunks, units, unit,
                (float) eps, rms ? 1 : 0, mean, var, rstd, running == null ? null : pointer(running.mean()),
                running == null ? null : pointer(running.var()), (float) factor);
    }

    /** Sums each group's {@code chunks} partial sums in stats.cu's fixed tree into {@code a} and {@code b}. */
    private void finalizeSums(Scratch s, DevicePointer partials, long groups, long chunks, DevicePointer a,
                              DevicePointer b, boolean accumulate) {
        long parts = chunks;
        while (parts > MERGE_FAN_IN) {
            long merged = ceilDiv(parts, MERGE_FAN_IN);
            DevicePointer next = s.floats(2 * groups * merged);
            launch(SUMS_MERGE_PARTIALS, warps(groups * merged), BLOCK, 0, partials, groups, parts, next);
            partials = next;
            parts = merged;
        }
        launch(SUMS_FINALIZE, finalizeGrid(groups, parts), BLOCK, 0, partials, groups, parts, a, b, accumulate ? 1 : 0);
    }

    /** The finalize kernels merge a group's last partials with a thread when there are few, else with a warp. */
    private long finalizeGrid(long groups, long parts) {
        return parts > MERGE_PER_LANE ? warps(groups) : grid(groups);
    }

    /** Per-channel statistics of [N, C, S]: along S when S is long, else one thread per channel. */
    private void channelStats(Scratch s, DevicePointer x, NcsLayout l, double eps, DevicePointer mean,
                              DevicePointer rstd, RunningStats running, double factor) {
        if (l.s() >= 32) {
            segmentStats(s, x, l.c(), l.s(), l.n(), l.s(), l.c() * l.s(), eps, false, mean, null, rstd, running, factor);
            return;
        }
        long chunks = columnChunks(l);
        DevicePointer partials = s.floats(2 * l.c() * chunks);
        launch(COLUMNS_WELFORD_PARTIAL, grid(l.c() * chunks), BLOCK, 0, x, l.n(), l.c(), l.s(), chunks,
                partials);
        finalizeStats(s, partials, l.c(), chunks, l.n(), l.s(), eps, false, mean, null, rstd, running, factor);
    }

    /** Statistics of each (n, c) over its S values. */
    private void instanceStats(Scratch s, DevicePointer x, NcsLayout l, double eps, DevicePointer mean,
                               DevicePointer var, DevicePointer rstd) {
        segmentStats(s, x, l.n() * l.c(), l.s(), 1, l.s(), 0, eps, false, mean, var, rstd, null, 0);
    }

    /** Σ dy and Σ dy·(x − center) per group of segments, the center of group g at g / centerDivisor. */
    private void segmentSums(Scratch s, DevicePointer x, DevicePointer dy, DevicePointer center, long centerDivisor,
                             long groups, long groupStride, long count, long length, long segStride,
                             DevicePointer sumDy, DevicePointer sumDyX) {
        long chunks = segmentChunks(groups, count * length);
        DevicePointer partials = s.floats(2 * groups * chunks);
        launch(SEGMENTS_SUMS_PARTIAL, itemBlocks(groups * chunks), BLOCK, 0, x, dy, center, centerDivisor, groups,
                groupStride, count, length, segStride, chunks, partials);
        finalizeSums(s, partials, groups, chunks, sumDy, sumDyX, false);
    }

    private void channelSums(Scratch s, DevicePointer x, DevicePointer dy, DevicePointer mean, NcsLayout l,
                             DevicePointer sumDy, DevicePointer sumDyX) {
        if (l.s() >= 32) {
            segmentSums(s, x, dy, mean, 1, l.c(), l.s(), l.n(), l.s(), l.c() * l.s(), sumDy, sumDyX);
            return;
        }
        long chunks = columnChunks(l);
        DevicePointer partials = s.floats(2 * l.c() * chunks);
        launch(COLUMNS_SUMS_PARTIAL, grid(l.c() * chunks), BLOCK, 0, x, dy, mean, l.n(), l.c(), l.s(),
                chunks, partials);
        finalizeSums(s, partials, l.c(), chunks, sumDy, sumDyX, false);
    }

    private void instanceSums(Scratch s, DevicePointer x, DevicePointer dy, DevicePointer center, long centerDivisor,
                              NcsLayout l, DevicePointer sumDy, DevicePointer sumDyX) {
        segmentSums(s, x, dy, center, centerDivisor, l.n() * l.c(), l.s(), 1, l.s(), 0, sumDy, sumDyX);
    }

    /** y = A·(x − M) + D per (n, c) or per channel (channels.cu). */
    private void apply(Tensor x, Tensor y, DevicePointer a, DevicePointer m, long centerDivisor, DevicePointer d,
                       NcsLayout l, boolean perSample) {
        boolean vec = l.s() % 4 == 0 && aligned(x, y);
        launch(vec ? NC_APPLY_VEC : NC_APPLY, grid(vec ? l.numel() / 4 : l.numel()), BLOCK, 0,
                pointer(x), pointer(y), a, m, centerDivisor, d, l.n(), l.c(), l.s(), perSample ? 1 : 0);
    }

    /** dx = A·dy + B·(x − M) + D per (n, c) or per channel (channels.cu). */
    private void applyBackward(Tensor dy, Tensor x, DevicePointer a, DevicePointer b, DevicePointer m,
                               long centerDivisor, DevicePointer d, Tensor dx, NcsLayout l, boolean perSample) {
        boolean vec = l.s() % 4 == 0 && aligned(dy, x, dx);
        launch(vec ? NC_APPLY_BACKWARD_VEC : NC_APPLY_BACKWARD,
                grid(vec ? l.numel() / 4 : l.numel()), BLOCK, 0, pointer(dy), pointer(x), a, b, m,
                centerDivisor, d, pointer(dx), l.n(), l.c(), l.s(), perSample ? 1 : 0);
    }

    // ---- launch sizing ----

    /** Chunks per group: enough (group, chunk) blocks to fill the device, chunks of MIN_CHUNK to MAX_CHUNK values. */
    private long segmentChunks(long groups, long groupSize) {
        long fill = ceilDiv(4L * info.multiprocessors(), groups);
        long chunks = Math.min(fill, Math.max(1, groupSize / MIN_CHUNK));
        return clamp(Math.max(chunks, ceilDiv(groupSize, MAX_CHUNK)), 1, Math.max(groupSize, 1));
    }

    /** Chunks over N for the column kernels: enough threads (C per chunk) to fill the device, each walking few values. */
    private long columnChunks(NcsLayout l) {
        long chunks = Math.max(ceilDiv(threadsToFill(), l.c()), ceilDiv(l.n() * l.s(), MAX_SERIAL));
        return clamp(chunks, 1, l.n());
    }

    private long threadsToFill() {
        return 2048L * info.multiprocessors();
    }

    /** Blocks for a grid-stride kernel needing {@code needed} blocks: at most 32 per SM. */
    long blocks(long needed) {
        return clamp(needed, 1, 32L * info.multiprocessors());
    }

    /** Blocks of BLOCK threads for a grid-stride kernel with one thread per item. */
    long grid(long threads) {
        return blocks(ceilDiv(threads, BLOCK));
    }

    /** Blocks of BLOCK threads for a kernel with one warp per item. */
    long warps(long items) {
        return blocks(ceilDiv(items, BLOCK / 32));
    }

    /** Blocks for a kernel with one block per item: at most 16 per SM. */
    long itemBlocks(long items) {
        return clamp(items, 1, 16L * info.multiprocessors());
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
    }

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

    private static boolean aligned(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (!((DeviceTensor) t).aligned16()) {
                return false;
            }
        }
        return true;
    }

    DevicePointer pointer(Tensor t) {
        if (t == null) {
            return null;
        }
        if (!(t instanceof DeviceTensor d) || d.backend() != this) {
            throw new IllegalArgumentException("tensor " + t + " does not belong to this cuda backend");
        }
        return d.pointer();
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

    /** Scratch memory for one operation, returned to the allocator at its end (stream order keeps it safe). */
    private final class Scratch implements AutoCloseable {
        private final List<DevicePointer> pointers = new ArrayList<>();
        private final List<Long> sizes = new ArrayList<>();

        DevicePointer floats(long count) {
            DevicePointer p = allocator.allocate(4 * Math.max(count, 1));
            pointers.add(p);
            sizes.add(4 * Math.max(count, 1));
            return p;
        }

        @Override
        public void close() {
            for (int i = 0; i < pointers.size(); i++) {
                allocator.release(pointers.get(i), sizes.get(i));
            }
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
