package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.cuda.DeviceInfo;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The building blocks of the CUDA launch plans, for the norms' operations
 * ({@link dev.jnorm.backend.NormOp#launch}): scratch memory, launch sizing for the device, and the
 * passes several norms share, each over a record of named arguments: statistics of groups of
 * segments (stats.cu: per-chunk partials, then a fixed merge tree), sums of {@code dy} and
 * {@code dy·(x − center)}, and the elementwise passes of channels.cu. Internal: not part of the API.
 */
public final class CudaKit {
    /** Threads per block of every kernel but the few declared {@code BIG_KERNEL}. */
    public static final int BLOCK = 256;
    /** Threads per block of the kernels declared {@code BIG_KERNEL} or {@code BIG_SHARED_KERNEL}. */
    public static final int BIG_BLOCK = 1024;
    /** Values of a (group, chunk) block of the statistics kernels: at least a block's worth... */
    private static final long MIN_CHUNK = 8192;
    /** ...and at most 256 per thread, so that no thread's own serial sum grows long (stats.cu). */
    private static final long MAX_CHUNK = 256L * BLOCK;
    /** Values one thread of the column kernels, or of the row parameter gradients, walks at most... */
    public static final long MAX_SERIAL = 256;
    /**
     * ...and, in the column kernels, at least where the device would be filled with fewer: each
     * chunk's partial (two floats per column, written once and read once) is then at most 1/16 of
     * the column values it stands for (a [4096, 64] BatchNorm used chunks of one row, whose
     * partials moved more bytes than x).
     */
    private static final long MIN_SERIAL = 32;
    /** Partials one lane, and one warp, merge in stats.cu's tree (MERGE_PER_LANE and MERGE_FAN_IN there). */
    private static final long MERGE_PER_LANE = 16;
    private static final long MERGE_FAN_IN = 32 * MERGE_PER_LANE;

    private final GpuDevice device;
    private final DeviceAllocator allocator;
    private final KernelLaunch.Launcher launcher;
    private final Function<Tensor, DevicePointer> pointers;
    private final Predicate<Tensor> aligned16;
    private final Function<Tensor, DType> storage;

    /**
     * @param pointers  the device address of one of the backend's tensors
     * @param aligned16 whether a tensor's first element is 16-byte aligned
     * @param storage   the dtype a tensor's memory holds as the kernels see it (float32 for the float32
     *                  copy of 16-bit data that an op without 16-bit kernels runs on)
     */
    public CudaKit(GpuDevice device, DeviceAllocator allocator, KernelLaunch.Launcher launcher,
                   Function<Tensor, DevicePointer> pointers, Predicate<Tensor> aligned16,
                   Function<Tensor, DType> storage) {
        this.device = device;
        this.allocator = allocator;
        this.launcher = launcher;
        this.pointers = pointers;
        this.aligned16 = aligned16;
        this.storage = storage;
    }

    /** The storage dtype of {@code t}'s memory as the kernels see it: float32, float16 or bfloat16. */
    public DType storage(Tensor t) {
        return storage.apply(t);
    }

    public DeviceInfo info() {
        return device.info();
    }

    /**
     * The blocks of a thread-block cluster the device runs the cluster kernels in (the *_sm90
     * modules: compute capability 9.0 or newer), or 1 where it has no clusters or
     * {@code -Djnorm.cuda.clusters=false} turns them off (the kernels without clusters instead).
     */
    public int clusterBlocks() {
        boolean enabled = !"false".equals(System.getProperty("jnorm.cuda.clusters"));
        return enabled && device.info().hasClusters() ? Kernel.ROWS_BACKWARD_FUSED_CLUSTER.cluster() : 1;
    }

    /** Where {@link Kernels}' launches go. */
    public KernelLaunch.Launcher launcher() {
        return launcher;
    }

    /** The device address of {@code t}, or null for a null tensor. */
    public DevicePointer pointer(Tensor t) {
        return t == null ? null : pointers.apply(t);
    }

    /** True when every tensor starts 16-byte aligned, so float4 accesses are allowed. */
    public boolean aligned(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (!aligned16.test(t)) {
                return false;
            }
        }
        return true;
    }

    /** Copies {@code bytes} on the device, in stream order. */
    /** Sets {@code count} floats from {@code p} to {@code value}, in stream order. */
    public void fill(DevicePointer p, float value, long count) {
        device.fill32(p, Float.floatToRawIntBits(value), count);
    }

    public void copy(DevicePointer destination, DevicePointer source, long bytes) {
        device.copy(destination, source, bytes);
    }

    // ---- scratch memory ----

    public Scratch scratch() {
        return new Scratch();
    }

    /** Scratch memory for one operation, returned to the allocator at its end (stream order keeps it safe). */
    public final class Scratch implements AutoCloseable {
        private final List<DevicePointer> pointers = new ArrayList<>();
        private final List<Long> sizes = new ArrayList<>();

        private Scratch() {
        }

        /** Room for {@code count} floats (at least one). */
        public DevicePointer floats(long count) {
            long bytes = 4 * Math.max(count, 1);
            DevicePointer p = allocator.allocate(bytes);
            pointers.add(p);
            sizes.add(bytes);
            return p;
        }

        @Override
        public void close() {
            for (int i = 0; i < pointers.size(); i++) {
                allocator.release(pointers.get(i), sizes.get(i));
            }
        }
    }

    // ---- launch sizing ----

    /** The time model the launch plans choose by where bytes trade against parallelism. */
    public LaunchModel model() {
        return LaunchModel.HOPPER;
    }

    /** Blocks for a grid-stride kernel needing {@code needed} blocks: at most 32 per SM. */
    public long blocks(long needed) {
        return clamp(needed, 1, 32L * info().multiprocessors());
    }

    /** Blocks of BLOCK threads for a grid-stride kernel with one thread per item. */
    public long grid(long threads) {
        return blocks(ceilDiv(threads, BLOCK));
    }

    /** Blocks of BLOCK threads for a kernel with one warp per item. */
    public long warps(long items) {
        return blocks(ceilDiv(items, BLOCK / 32));
    }

    /** Blocks for a kernel with one block per item: at most 16 per SM. */
    public long itemBlocks(long items) {
        return clamp(items, 1, 16L * info().multiprocessors());
    }

    /** Threads that fill the device: 2048 per SM. */
    public long threadsToFill() {
        return 2048L * info().multiprocessors();
    }

    public static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    public static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** Chunks per group: enough (group, chunk) blocks to fill the device, chunks of MIN_CHUNK to MAX_CHUNK values. */
    private long segmentChunks(long groups, long groupSize) {
        long fill = ceilDiv(4L * info().multiprocessors(), groups);
        long chunks = Math.min(fill, Math.max(1, groupSize / MIN_CHUNK));
        return clamp(Math.max(chunks, ceilDiv(groupSize, MAX_CHUNK)), 1, Math.max(groupSize, 1));
    }

    /**
     * Chunks over N for the column kernels: enough threads (C per chunk) to fill the device, each
     * walking MIN_SERIAL to MAX_SERIAL values.
     */
    private long columnChunks(NcsLayout l, DType storage) {
        long values = l.n() * l.s();
        long minSerial = MIN_SERIAL * 4 / storage.bytes(); // as many bytes a partial stands for, 16-bit or not
        long chunks = Math.min(ceilDiv(threadsToFill(), l.c()), Math.max(1, values / minSerial));
        return clamp(Math.max(chunks, ceilDiv(values, MAX_SERIAL)), 1, l.n());
    }

    // ---- statistics ----

    /**
     * Groups of {@code count} segments of {@code length} contiguous values, segment k of group g at
     * {@code g·groupStride + k·segStride} (stats.cu).
     */
    public record Segments(Tensor x, long groups, long groupStride, long count, long length, long segStride) {
        /** Each of {@code rows} contiguous rows of {@code length} values. */
        public static Segments rows(Tensor x, long rows, long length) {
            return new Segments(x, rows, length, 1, length, 0);
        }

        /** Each channel c of {@code [N, C, S]}: N segments of S values, C·S apart. */
        public static Segments channels(Tensor x, NcsLayout l) {
            return new Segments(x, l.c(), l.s(), l.n(), l.s(), l.c() * l.s());
        }

        /** Each (n, c) of {@code [N, C, S]}: one row of S values. */
        public static Segments instances(Tensor x, NcsLayout l) {
            return rows(x, l.n() * l.c(), l.s());
        }

        long values() {
            return count * length;
        }
    }

    /**
     * Where statistics go, each pointer optional: the mean (0 for {@code rms} groups, which are not
     * centered), the biased variance, {@code rstd = 1/sqrt(var + eps)} (of the mean square for
     * {@code rms}); and the running statistics to update with the unbiased variance, if any.
     */
    public record Statistics(double eps, boolean rms, DevicePointer mean, DevicePointer var, DevicePointer rstd,
                             RunningStats running, double factor) {
        public static Statistics of(double eps, DevicePointer mean, DevicePointer var, DevicePointer rstd) {
            return new Statistics(eps, false, mean, var, rstd, null, 0);
        }
    }

    /**
     * The statistics of each group of segments, split across blocks, merged in a fixed tree; 16-bit
     * segments in 16-byte packs where they allow ({@link #packs}).
     */
    public void statistics(Scratch s, Segments g, Statistics out) {
        int unit = packs(g) ? 8 : 1;
        long chunks = segmentChunks(g, unit);
        DevicePointer partials = s.floats(2 * g.groups() * chunks);
        (unit == 8 ? byStorage(storage(g.x()), null, Kernels.segmentsWelfordPartialPackF16(),
                Kernels.segmentsWelfordPartialPackBf16()) : byStorage(storage(g.x()), Kernels.segmentsWelfordPartial(),
                Kernels.segmentsWelfordPartialF16(), Kernels.segmentsWelfordPartialBf16())).x(pointer(g.x()))
                .groups(g.groups()).groupStride(g.groupStride()).count(g.count()).length(g.length())
                .segStride(g.segStride()).chunks(chunks).partials(partials)
                .launch(launcher, itemBlocks(g.groups() * chunks), 0);
        finalizeStatistics(s, partials, g.groups(), chunks, g.values() / unit, unit, out);
    }

    /**
     * Chunks per group of segments read {@code unit} values at a time: as many as the scalar kernels
     * take, at most one per unit.
     */
    private long segmentChunks(Segments g, int unit) {
        return Math.min(segmentChunks(g.groups(), g.values()), Math.max(1, g.values() / unit));
    }

    /**
     * Whether the segment kernels take 16-byte packs of eight 16-bit values: 16-bit storage whose
     * segments, their strides and first elements (with those of {@code others}) fall on 8 values
     * and 16 bytes. Chunks are then cut on packs.
     */
    private boolean packs(Segments g, Tensor... others) {
        return storage(g.x()) != DType.FLOAT32 && g.length() % 8 == 0 && g.groupStride() % 8 == 0
                && g.segStride() % 8 == 0 && aligned(g.x()) && aligned(others);
    }

    /** Per-channel statistics of [N, C, S]: along S when S is long, else one thread per channel. */
    public void channelStatistics(Scratch s, Tensor x, NcsLayout l, Statistics out) {
        if (l.s() >= 32) {
            statistics(s, Segments.channels(x, l), out);
            return;
        }
        long chunks = columnChunks(l, storage(x));
        DevicePointer partials = s.floats(2 * l.c() * chunks);
        int width = columnsWidth(l, x);
        if (width > 1) {
            byStorage(storage(x), Kernels.columnsWelfordPartialVec(), Kernels.columnsWelfordPartialVecF16(),
                    Kernels.columnsWelfordPartialVecBf16()).x(pointer(x)).N(l.n()).C(l.c()).chunks(chunks)
                    .partials(partials).launch(launcher, grid(l.c() / width * chunks), 0);
        } else {
            byStorage(storage(x), Kernels.columnsWelfordPartial(), Kernels.columnsWelfordPartialF16(),
                    Kernels.columnsWelfordPartialBf16()).x(pointer(x)).N(l.n()).C(l.c()).S(l.s()).chunks(chunks)
                    .partials(partials).launch(launcher, grid(l.c() * chunks), 0);
        }
        finalizeStatistics(s, partials, l.c(), chunks, l.n(), l.s(), out);
    }

    /**
     * The channels a thread of the column kernels takes, 16 bytes of them: 4 float32 or 8 16-bit
     * ones where S = 1, C is a multiple of that and rows are 16-byte aligned; else 1 (the scalar
     * kernels).
     */
    private int columnsWidth(NcsLayout l, Tensor... tensors) {
        int width = storage(tensors[0]) == DType.FLOAT32 ? 4 : 8;
        return l.s() == 1 && l.c() % width == 0 && aligned(tensors) ? width : 1;
    }

    /** The kernel of a family for a storage dtype: float32's, float16's or bfloat16's. */
    public static <K> K byStorage(DType storage, K float32, K float16, K bfloat16) {
        return switch (storage) {
            case FLOAT16 -> float16;
            case BFLOAT16 -> bfloat16;
            default -> float32;
        };
    }

    /**
     * Merges each group's {@code chunks} Welford partials (of {@code units} units of {@code unit}
     * values, as stage 1 cut them) in stats.cu's fixed tree, a level per launch while a group has more
     * than one warp merges, then writes the statistics. Partials of group g, chunk k at g·chunks + k,
     * each (mean, M2).
     */
    public void finalizeStatistics(Scratch s, DevicePointer partials, long groups, long chunks, long units, long unit,
                                    Statistics out) {
        long parts = chunks;
        long span = 1;
        while (parts > MERGE_FAN_IN) {
            long merged = ceilDiv(parts, MERGE_FAN_IN);
            DevicePointer next = s.floats(2 * groups * merged);
            Kernels.welfordMergePartials().partials(partials).groups(groups).parts(parts).span(span).chunks(chunks)
                    .units(units).unit(unit).merged(next).launch(launcher, warps(groups * merged));
            partials = next;
            parts = merged;
            span *= MERGE_FAN_IN;
        }
        RunningStats running = out.running();
        Kernels.welfordFinalize().partials(partials).groups(groups).parts(parts).span(span).chunks(chunks).units(units)
                .unit(unit).eps((float) out.eps()).rms(out.rms() ? 1 : 0).meanOut(out.mean()).varOut(out.var())
                .rstdOut(out.rstd()).runningMean(running == null ? null : pointer(running.mean()))
                .runningVar(running == null ? null : pointer(running.var())).factor((float) out.factor())
                .launch(launcher, finalizeGrid(groups, parts));
    }

    /** The finalize kernels merge a group's last partials with a thread when there are few, else with a warp. */
    private long finalizeGrid(long groups, long parts) {
        return parts > MERGE_PER_LANE ? warps(groups) : grid(groups);
    }

    // ---- sums ----

    /** Where sums go: {@code Σ dy} and {@code Σ dy·(x − center)} per group, each optional. */
    public record Sums(DevicePointer dy, DevicePointer dyX) {
    }

    /**
     * Σ dy and Σ dy·(x − center) per group of segments (dy laid out as x), the center of group g at
     * g / centerDivisor; 16-bit x and dy in 16-byte packs where they allow.
     */
    public void sums(Scratch s, Segments g, Tensor dy, DevicePointer center, long centerDivisor, Sums out) {
        int unit = packs(g, dy) ? 8 : 1;
        long chunks = segmentChunks(g, unit);
        DevicePointer partials = s.floats(2 * g.groups() * chunks);
        (unit == 8 ? byStorage(storage(g.x()), null, Kernels.segmentsSumsPartialPackF16(),
                Kernels.segmentsSumsPartialPackBf16()) : byStorage(storage(g.x()), Kernels.segmentsSumsPartial(),
                Kernels.segmentsSumsPartialF16(), Kernels.segmentsSumsPartialBf16())).x(pointer(g.x()))
                .dy(pointer(dy)).center(center).centerDivisor(centerDivisor).groups(g.groups())
                .groupStride(g.groupStride()).count(g.count()).length(g.length()).segStride(g.segStride())
                .chunks(chunks).partials(partials).launch(launcher, itemBlocks(g.groups() * chunks), 0);
        finalizeSums(s, partials, g.groups(), chunks, out, false);
    }

    /** Per-channel sums of [N, C, S] about each channel's {@code mean}: along S when S is long, else by columns. */
    public void channelSums(Scratch s, Tensor x, Tensor dy, DevicePointer mean, NcsLayout l, Sums out) {
        if (l.s() >= 32) {
            sums(s, Segments.channels(x, l), dy, mean, 1, out);
            return;
        }
        long chunks = columnChunks(l, storage(x));
        DevicePointer partials = s.floats(2 * l.c() * chunks);
        int width = columnsWidth(l, x, dy);
        if (width > 1) {
            byStorage(storage(x), Kernels.columnsSumsPartialVec(), Kernels.columnsSumsPartialVecF16(),
                    Kernels.columnsSumsPartialVecBf16()).x(pointer(x)).dy(pointer(dy)).center(mean).N(l.n())
                    .C(l.c()).chunks(chunks).partials(partials).launch(launcher, grid(l.c() / width * chunks), 0);
        } else {
            byStorage(storage(x), Kernels.columnsSumsPartial(), Kernels.columnsSumsPartialF16(),
                    Kernels.columnsSumsPartialBf16()).x(pointer(x)).dy(pointer(dy)).center(mean).N(l.n()).C(l.c())
                    .S(l.s()).chunks(chunks).partials(partials).launch(launcher, grid(l.c() * chunks), 0);
        }
        finalizeSums(s, partials, l.c(), chunks, out, false);
    }

    /**
     * Adds each group's {@code chunks} partial sums in stats.cu's fixed tree into {@code out},
     * overwriting it or, with {@code accumulate}, adding to it (parameter gradients).
     */
    public void finalizeSums(Scratch s, DevicePointer partials, long groups, long chunks, Sums out,
                             boolean accumulate) {
        long parts = chunks;
        while (parts > MERGE_FAN_IN) {
            long merged = ceilDiv(parts, MERGE_FAN_IN);
            DevicePointer next = s.floats(2 * groups * merged);
            Kernels.sumsMergePartials().partials(partials).groups(groups).parts(parts).merged(next)
                    .launch(launcher, warps(groups * merged));
            partials = next;
            parts = merged;
        }
        Kernels.sumsFinalize().partials(partials).groups(groups).parts(parts).outA(out.dy()).outB(out.dyX())
                .accumulate(accumulate ? 1 : 0).launch(launcher, finalizeGrid(groups, parts));
    }

    // ---- the elementwise passes ----

    /**
     * Per-row coefficients of the elementwise passes (channels.cu): {@code y = A·(x − M) + D} forward,
     * {@code dx = A·dy + B·(x − M) + D} backward, per (n, c) when {@code perSample}, else per channel;
     * the center of row q is {@code M[q / centerDivisor]}; D may be null forward.
     */
    public record Coefficients(DevicePointer a, DevicePointer b, DevicePointer d, DevicePointer center,
                               long centerDivisor, boolean perSample) {
    }

    /**
     * Whether the elementwise passes can move float4: a float4 within one row (S a multiple of 4),
     * or, with per-channel coefficients, four channels of one [N, C] row (S = 1, C a multiple of 4).
     */
    /**
     * Whether the elementwise passes can take {@code width} values at a time: rows of a multiple of
     * it, or [N, C] per channel with C a multiple of it (a pack then is {@code width} channels).
     */
    private static boolean elementwisePacks(NcsLayout l, Coefficients k, int width) {
        return l.s() % width == 0 || (l.s() == 1 && l.c() % width == 0 && !k.perSample());
    }

    /**
     * The elementwise kernel's width: 4 for float32's float4 variant, 8 for 16-bit storage's 16-byte
     * packs, 1 for the scalar kernels (unaligned, or rows not a multiple of the width).
     */
    private int elementwiseWidth(NcsLayout l, Coefficients k, Tensor... tensors) {
        int width = storage(tensors[0]) == DType.FLOAT32 ? 4 : 8;
        return elementwisePacks(l, k, width) && aligned(tensors) ? width : 1;
    }

    /** {@code y = A·(x − M) + D}. */
    public void apply(Tensor x, Tensor y, NcsLayout l, Coefficients k) {
        int width = elementwiseWidth(l, k, x, y);
        Kernels.NcApplyArgs launch = width == 4 ? Kernels.ncApplyVec()
                : width == 8 ? byStorage(storage(x), null, Kernels.ncApplyPackF16(), Kernels.ncApplyPackBf16())
                : byStorage(storage(x), Kernels.ncApply(), Kernels.ncApplyF16(), Kernels.ncApplyBf16());
        launch.x(pointer(x)).y(pointer(y)).A(k.a()).M(k.center()).centerDivisor(k.centerDivisor()).D(k.d()).N(l.n())
                .C(l.c()).S(l.s()).perSample(k.perSample() ? 1 : 0);
        launch.launch(launcher, grid(l.numel() / width), 0);
    }

    /** {@code dx = A·dy + B·(x − M) + D}. */
    public void applyBackward(Tensor dy, Tensor x, Tensor dx, NcsLayout l, Coefficients k) {
        int width = elementwiseWidth(l, k, dy, x, dx);
        Kernels.NcApplyBackwardArgs launch = width == 4 ? Kernels.ncApplyBackwardVec()
                : width == 8 ? byStorage(storage(x), null, Kernels.ncApplyBackwardPackF16(),
                Kernels.ncApplyBackwardPackBf16())
                : byStorage(storage(x), Kernels.ncApplyBackward(), Kernels.ncApplyBackwardF16(),
                Kernels.ncApplyBackwardBf16());
        launch.dy(pointer(dy)).x(pointer(x)).A(k.a()).B(k.b()).M(k.center()).centerDivisor(k.centerDivisor())
                .D(k.d()).dx(pointer(dx)).N(l.n()).C(l.c()).S(l.s()).perSample(k.perSample() ? 1 : 0);
        launch.launch(launcher, grid(l.numel() / width), 0);
    }
}
