package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.cuda.CudaException;
import dev.jnorm.backend.cuda.CudaOutOfMemoryException;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import dev.jnorm.backend.cuda.DeviceInfo;
import dev.jnorm.backend.cuda.MemoryTraffic;
import dev.jnorm.tensor.DType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A {@link GpuDevice} that runs the kernels of {@code cuda-kernels/} on their CPU emulator
 * ({@code cuda-kernels/emulator}, built by Maven into {@code target/emulator} where g++ is present):
 * the same kernel sources, the same launches, checked the way a GPU would check them.
 *
 * <ul>
 *   <li><b>Geometry.</b> It reports a real device's SM count and limits ({@link Geometry}: an H200's
 *       by default), so the backend sizes its launches and picks its paths as on that GPU.
 *   <li><b>Launch limits.</b> A launch a GPU would refuse fails the same way, synchronously: a grid
 *       or block out of range, more threads than the kernel's {@code __launch_bounds__}, registers
 *       times threads over the block's register file (the counts ptxas gives each kernel for sm_90,
 *       {@code resources.tsv}), shared memory over the limit, or over 48 KiB for a kernel without
 *       the opt-in attribute ({@link Kernel#dynamicShared()}).
 *   <li><b>Memory.</b> Every load and store is checked against both ends of its buffer (device
 *       memory or shared memory) and its alignment; device buffers and shared memory start as NaN.
 *   <li><b>Faults are asynchronous</b>, as on a GPU: an illegal access or a deadlock is recorded by
 *       the launch and thrown by the next call on the device, and is sticky.
 *   <li><b>Orders.</b> Threads of a block run in forward, reverse or shuffled order, and blocks too
 *       ({@link #order}); deterministic kernels give bitwise identical results under every order.
 *   <li><b>Traffic.</b> The global-memory bytes each launch reads and writes are counted
 *       ({@link #traffic()}, {@link #trafficByKernel()}).
 * </ul>
 */
public final class EmulatedDevice implements GpuDevice {
    /** The property naming the emulator library; by default {@code emulator/libjnorm_emulator.so} beside the jar or classes. */
    public static final String LIBRARY_PROPERTY = "jnorm.emulator";
    /** The property choosing the geometry ({@code h200}, {@code h100} or {@code small}) of {@link #open()}. */
    public static final String GEOMETRY_PROPERTY = "jnorm.emulator.geometry";
    /** The property choosing thread and block orders: {@code forward}, {@code reverse} or {@code shuffle[:seed]}. */
    public static final String ORDER_PROPERTY = "jnorm.emulator.order";

    private static final String UNAVAILABLE = load();
    private static final Map<String, Resources> RESOURCES = readResources();

    /**
     * The limits of an emulated device.
     *
     * @param sharedDefault the dynamic plus static shared memory a block may use without the opt-in attribute
     * @param sharedOptIn   the most a block may use with it (what {@link DeviceInfo#sharedMemoryPerBlock()} reports)
     */
    public enum Geometry {
        /** NVIDIA H200 SXM: 132 SMs, 227 KiB of shared memory per block with the opt-in attribute. */
        H200("NVIDIA H200 (emulated)", 132, 9, 0, 48 << 10, 227 << 10, 1024, 65536, 50L << 20),
        /** NVIDIA H100 PCIe: 114 SMs, otherwise as the H200. */
        H100("NVIDIA H100 PCIe (emulated)", 114, 9, 0, 48 << 10, 227 << 10, 1024, 65536, 50L << 20),
        /** A small device (2 SMs, 64 KiB opt-in, as a Turing part has) so that small inputs reach every path. */
        SMALL("small GPU (emulated)", 2, 7, 5, 48 << 10, 64 << 10, 1024, 65536, 1L << 20);

        final String deviceName;
        final int multiprocessors;
        final int major;
        final int minor;
        final int sharedDefault;
        final int sharedOptIn;
        final int maxThreads;
        final int registersPerBlock;
        final long l2Bytes;

        Geometry(String deviceName, int multiprocessors, int major, int minor, int sharedDefault, int sharedOptIn,
                 int maxThreads, int registersPerBlock, long l2Bytes) {
            this.deviceName = deviceName;
            this.multiprocessors = multiprocessors;
            this.major = major;
            this.minor = minor;
            this.sharedDefault = sharedDefault;
            this.sharedOptIn = sharedOptIn;
            this.maxThreads = maxThreads;
            this.registersPerBlock = registersPerBlock;
            this.l2Bytes = l2Bytes;
        }

        /** The geometry by its lower-case name ({@code h200}, {@code h100}, {@code small}). */
        public static Geometry named(String name) {
            for (Geometry g : values()) {
                if (g.name().toLowerCase(Locale.ROOT).equals(name)) {
                    return g;
                }
            }
            throw new IllegalArgumentException("the emulated geometry must be h200, h100 or small; got '" + name + "'");
        }
    }

    /** The order in which a launch runs the threads of each block, or its blocks. */
    public enum Order { FORWARD, REVERSE, SHUFFLE }

    /** What ptxas assigned a kernel for sm_90, and its {@code __launch_bounds__}. */
    record Resources(int registers, int staticShared, int maxThreads) {
    }

    private static final long MAX_GRID = Integer.MAX_VALUE;
    private static final int REGISTER_UNIT = 256; // registers are allocated per warp in units of 256

    private final Geometry geometry;
    private final DeviceInfo info;
    private final long memoryLimit;
    private long allocated;
    private Order threadOrder;
    private Order blockOrder;
    private long seed;
    private CudaException pending;
    private String failNextLaunch;
    private MemoryTraffic traffic = MemoryTraffic.NONE;
    private final Map<Kernel, MemoryTraffic> trafficByKernel = new EnumMap<>(Kernel.class);
    private final Set<Long> live = new HashSet<>();
    private boolean closed;

    /** @param memoryLimit bytes this device may hand out before reporting out of memory */
    public EmulatedDevice(Geometry geometry, long memoryLimit) {
        if (UNAVAILABLE != null) {
            throw new CudaUnavailableException(UNAVAILABLE);
        }
        this.geometry = geometry;
        this.memoryLimit = memoryLimit;
        this.info = new DeviceInfo(geometry.deviceName, geometry.major, geometry.minor, geometry.multiprocessors,
                geometry.sharedOptIn, geometry.l2Bytes, memoryLimit, "emulated");
        orderFromProperty(System.getProperty(ORDER_PROPERTY, "forward"));
    }

    public EmulatedDevice(Geometry geometry) {
        this(geometry, 4L << 30);
    }

    /** An emulated device of the geometry {@value #GEOMETRY_PROPERTY} names (an H200's by default). */
    public static EmulatedDevice open() {
        return new EmulatedDevice(Geometry.named(System.getProperty(GEOMETRY_PROPERTY, "h200")));
    }

    /** Why the emulator cannot run here, or null when it can. */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    private static String load() {
        Path library = library();
        if (!Files.exists(library)) {
            return "the kernel emulator is not built (" + library + " is missing; Maven builds it where g++ and a JDK's "
                    + "JNI headers are present)";
        }
        System.load(library.toString());
        return null;
    }

    private static Path library() {
        String named = System.getProperty(LIBRARY_PROPERTY);
        if (named != null) {
            return Path.of(named).toAbsolutePath();
        }
        try {
            Path code = Path.of(EmulatedDevice.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent().resolve("emulator/libjnorm_emulator.so").toAbsolutePath();
        } catch (URISyntaxException | NullPointerException | IllegalArgumentException e) {
            return Path.of("target/emulator/libjnorm_emulator.so").toAbsolutePath();
        }
    }

    private static Map<String, Resources> readResources() {
        Map<String, Resources> table = new HashMap<>();
        try (InputStream in = EmulatedDevice.class.getResourceAsStream("/dev/jnorm/kernels/resources.tsv")) {
            if (in == null) {
                throw new IllegalStateException("dev/jnorm/kernels/resources.tsv is missing (ci/build-ptx.sh makes it)");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    String[] f = line.split("\t");
                    table.put(f[0], new Resources(Integer.parseInt(f[1]), Integer.parseInt(f[2]),
                            Integer.parseInt(f[3])));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read dev/jnorm/kernels/resources.tsv", e);
        }
        return table;
    }

    /** The kernels the emulator library has registered. */
    public static String[] registeredKernels() {
        return kernelNames();
    }

    /**
     * The kinds of a registered kernel's parameters, as its C signature compiled for the emulator has
     * them (1 pointer, 2 int, 3 long long, 4 float), or null when no kernel has that name.
     */
    public static int[] registeredSignature(String kernel) {
        return kernelSignature(kernel);
    }

    public Geometry geometry() {
        return geometry;
    }

    /** Runs later launches with threads and blocks in these orders; {@code seed} drives the shuffles. */
    public void order(Order threads, Order blocks, long seed) {
        this.threadOrder = threads;
        this.blockOrder = blocks;
        this.seed = seed;
    }

    private void orderFromProperty(String value) {
        String[] parts = value.split(":", 2);
        Order o = switch (parts[0]) {
            case "forward" -> Order.FORWARD;
            case "reverse" -> Order.REVERSE;
            case "shuffle" -> Order.SHUFFLE;
            default -> throw new IllegalArgumentException(
                    ORDER_PROPERTY + " must be forward, reverse or shuffle[:seed]; got '" + value + "'");
        };
        order(o, o, parts.length > 1 ? Long.parseLong(parts[1]) : 1);
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public void makeCurrent() {
        // One emulated device, nothing to switch.
    }

    /** Throws the fault an earlier launch left, as the next call on a faulted GPU context does. */
    private void surface() {
        if (pending != null) {
            throw pending;
        }
    }

    @Override
    public DevicePointer allocate(long bytes) {
        surface();
        if (allocated + bytes > memoryLimit) {
            throw new CudaOutOfMemoryException("out of memory allocating " + bytes + " bytes on the emulator ("
                    + allocated + " of " + memoryLimit + " in use)");
        }
        long address = allocate0(bytes);
        if (address == 0) {
            throw new CudaOutOfMemoryException("the emulator could not allocate " + bytes + " bytes");
        }
        allocated += bytes;
        live.add(address);
        return new Address(address, bytes);
    }

    @Override
    public void free(DevicePointer pointer) {
        Address a = (Address) pointer;
        if (live.remove(a.address)) {
            release(a.address);
            allocated -= a.bytes;
        }
    }

    @Override
    public void fill32(DevicePointer pointer, int bits, long count) {
        surface();
        fill32(address(pointer), bits, count);
    }

    @Override
    public void fill16(DevicePointer pointer, short bits, long count) {
        surface();
        fill16(address(pointer), bits, count);
    }

    @Override
    public void upload16(DevicePointer destination, short[] source, int offset, int count) {
        surface();
        upload16(address(destination), source, offset, count);
    }

    @Override
    public void download16(DevicePointer source, short[] destination, int offset, int count) {
        surface();
        download16(address(source), destination, offset, count);
    }

    @Override
    public void upload(DevicePointer destination, float[] source, int offset, int count) {
        surface();
        upload(address(destination), source, offset, count);
    }

    @Override
    public void download(DevicePointer source, float[] destination, int offset, int count) {
        surface();
        download(address(source), destination, offset, count);
    }

    @Override
    public void copy(DevicePointer destination, DevicePointer source, long bytes) {
        surface();
        copy(address(destination), address(source), bytes);
    }

    /** Makes the next launch fault with {@code error}, reported by the call after it, as an illegal address would be. */
    public void failNextLaunch(String error) {
        failNextLaunch = error;
    }

    @Override
    public void launch(Kernel kernel, long grid, int block, int sharedBytes, Object... args) {
        surface();
        Resources r = RESOURCES.get(kernel.entry());
        if (r == null) {
            throw new IllegalStateException("no resources.tsv entry for " + kernel.entry() + " (run ci/build-ptx.sh)");
        }
        String refusal = refusal(kernel.entry(), r, kernel.dynamicShared(), geometry, grid, block, sharedBytes);
        if (refusal == null && kernel.cluster() > 1) {
            refusal = clusterRefusal(kernel.entry(), kernel.cluster(), geometry, grid);
        }
        if (refusal != null) {
            throw new CudaException(refusal, refusal.contains("registers") || refusal.contains("__launch_bounds__")
                    ? "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES" : refusal.contains("cluster")
                    ? "CUDA_ERROR_INVALID_CLUSTER_SIZE" : "CUDA_ERROR_INVALID_VALUE", false);
        }
        MemoryTraffic moved = runClusters(kernel.entry(), (int) grid, block, kernel.cluster(), sharedBytes, args);
        trafficByKernel.merge(kernel, moved, MemoryTraffic::plus);
    }

    /**
     * Why a GPU of geometry {@code g} would refuse the launch (as cuLaunchKernel does: invalid value,
     * or out of resources), or null when it would run it.
     *
     * @param optIn whether the kernel has the attribute that lets it use more than 48 KiB of shared memory
     */
    static String refusal(String k, Resources r, boolean optIn, Geometry g, long grid, int block, int sharedBytes) {
        if (grid < 1 || grid > MAX_GRID) {
            return k + ": a grid of " + grid + " blocks; a grid has 1 to " + MAX_GRID;
        }
        if (block < 1 || block > g.maxThreads) {
            return k + ": a block of " + block + " threads; a block has 1 to " + g.maxThreads;
        }
        if (block > r.maxThreads()) {
            return k + ": a block of " + block + " threads, more than its __launch_bounds__ of " + r.maxThreads();
        }
        long warps = (block + 31) / 32;
        long perWarp = (32L * r.registers() + REGISTER_UNIT - 1) / REGISTER_UNIT * REGISTER_UNIT;
        if (warps * perWarp > g.registersPerBlock) {
            return k + ": " + block + " threads of " + r.registers() + " registers need " + warps * perWarp
                    + " registers, more than the " + g.registersPerBlock + " of a block";
        }
        long limit = optIn ? g.sharedOptIn : g.sharedDefault;
        if (sharedBytes < 0 || (long) sharedBytes + r.staticShared() > limit) {
            return k + ": " + sharedBytes + " bytes of dynamic and " + r.staticShared()
                    + " of static shared memory, more than the " + limit + " a block may use"
                    + (optIn ? "" : " without the opt-in attribute");
        }
        return null;
    }

    /**
     * Why a GPU of geometry {@code g} would not run a kernel of thread-block clusters of {@code
     * cluster} blocks over {@code grid} blocks (its module does not load below compute capability
     * 9.0; a grid is a whole number of clusters), or null when it would.
     */
    static String clusterRefusal(String k, int cluster, Geometry g, long grid) {
        if (g.major < 9) {
            return k + ": thread-block clusters need compute capability 9.0; the " + g.deviceName + " is "
                    + g.major + "." + g.minor;
        }
        if (grid % cluster != 0) {
            return k + ": a grid of " + grid + " blocks is not a whole number of clusters of " + cluster;
        }
        return null;
    }

    /**
     * Runs kernel {@code entry} on the emulator, unchecked against the geometry's limits (tests use
     * it for the planted-defect kernels, which have no PTX), and returns its traffic. A fault is
     * left pending, to surface at the next call.
     */
    MemoryTraffic run(String entry, int grid, int block, int sharedBytes, Object... args) {
        return runClusters(entry, grid, block, 1, sharedBytes, args);
    }

    /** As {@link #run(String, int, int, int, Object...)}, in thread-block clusters of {@code cluster} blocks. */
    MemoryTraffic runClusters(String entry, int grid, int block, int cluster, int sharedBytes, Object... args) {
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
        long[] result = new long[3];
        String error = launch(entry, grid, block, cluster, sharedBytes, values, tags, threadOrder.ordinal(),
                blockOrder.ordinal(), seed, result);
        MemoryTraffic moved = new MemoryTraffic(result[0], result[1]);
        traffic = traffic.plus(moved);
        switch ((int) result[2]) {
            case 0 -> { }
            case 1 -> throw new IllegalArgumentException("emulated launch refused: " + error);
            case 2 -> pending = new CudaException(error, "CUDA_ERROR_ILLEGAL_ADDRESS", true);
            case 3 -> pending = new CudaException(error, "CUDA_ERROR_MISALIGNED_ADDRESS", true);
            default -> pending = new CudaException(error + " (on a GPU the kernel would hang)",
                    "CUDA_ERROR_LAUNCH_TIMEOUT", true);
        }
        if (failNextLaunch != null && pending == null) {
            pending = new CudaException("a kernel failed with " + failNextLaunch, failNextLaunch, true);
            failNextLaunch = null;
        }
        return moved;
    }

    private static CudaException refused(String message, String error) {
        return new CudaException(message, error, false);
    }

    /** No BLAS here: the backend uses its own GEMM kernel, which is thereby tested. */
    @Override
    public boolean gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, DevicePointer a,
                        int lda, DevicePointer b, int ldb, float beta, DevicePointer c, DType inputs,
                        DType output) {
        return false;
    }

    @Override
    public void synchronize() {
        surface();
    }

    @Override
    public double timeMillis(Runnable work) {
        surface();
        long start = System.nanoTime();
        work.run();
        surface();
        return (System.nanoTime() - start) / 1e6;
    }

    @Override
    public MemoryTraffic traffic() {
        return traffic;
    }

    /** The traffic of every kernel launched so far, summed per kernel. */
    public Map<Kernel, MemoryTraffic> trafficByKernel() {
        return new EnumMap<>(trafficByKernel);
    }

    /** Frees every buffer still allocated; idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            live.forEach(EmulatedDevice::release);
            live.clear();
            allocated = 0;
        }
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

    private static native void fill16(long address, short bits, long count);

    private static native void upload16(long address, short[] source, int offset, int count);

    private static native void download16(long address, short[] destination, int offset, int count);

    private static native void download(long address, float[] destination, int offset, int count);

    private static native void copy(long destination, long source, long bytes);

    /** result: bytes read, bytes written, and 0 (ran), 1 (refused), 2 (illegal address), 3 (misaligned), 4 (deadlock). */
    private static native String launch(String kernel, int grid, int block, int cluster, int sharedBytes, long[] args,
                                        int[] tags, int threadOrder, int blockOrder, long seed, long[] result);

    private static native String[] kernelNames();

    private static native int[] kernelSignature(String kernel);
}
