package dev.jnorm.backend.cuda;

import static dev.jnorm.backend.cuda.NormCase.batch;
import static dev.jnorm.backend.cuda.NormCase.batchInstance;
import static dev.jnorm.backend.cuda.NormCase.ghost;
import static dev.jnorm.backend.cuda.NormCase.group;
import static dev.jnorm.backend.cuda.NormCase.instance;
import static dev.jnorm.backend.cuda.NormCase.layer;
import static dev.jnorm.backend.cuda.NormCase.meanOnly;
import static dev.jnorm.backend.cuda.NormCase.renorm;
import static dev.jnorm.backend.cuda.NormCase.rms;
import static dev.jnorm.backend.cuda.NormCase.switchable;
import static dev.jnorm.backend.cuda.NormCase.sync;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.Backend;
import dev.jnorm.nn.Conv2d;
import dev.jnorm.nn.GlobalAvgPool;
import dev.jnorm.nn.Init;
import dev.jnorm.nn.Linear;
import dev.jnorm.nn.MaxPool2d;
import dev.jnorm.nn.Relu;
import dev.jnorm.nn.Sequential;
import dev.jnorm.nn.Sgd;
import dev.jnorm.nn.SoftmaxCrossEntropy;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.NormConfig;
import dev.jnorm.norm.NormKind;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.SixteenBit;
import dev.jnorm.testing.TestData;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA backend against the float64 CPU reference, for every norm, forward and backward, train
 * and eval, over shapes that reach every kernel path: sizes 1, 3, 31, 33, 1025, 2041, N of 1 and 2,
 * rows held by a warp, by a block (in more than 48 KiB of shared memory on an H200), or split across
 * blocks, short and long spatial sizes, inputs at misaligned offsets, statistics merged from ~10^5
 * partials. Every output is pre-filled with NaN, so an element a kernel fails to write
 * shows. Tolerances (DESIGN.md section 3): forward |got − ref| ≤ 1e-5 + 1e-5·|ref|; backward
 * |got − ref| ≤ 1e-4 and ‖got − ref‖ ≤ 1e-5·‖ref‖ + 1e-6·√n, the floor (an RMS error of 1e-6, fp32
 * noise on unit values) for gradients that are themselves near zero, such as the input gradient of
 * a group of two values.
 *
 * <p>Subclasses bind it to a device: {@code EmulatedCudaTest} and {@code EmulatedH200CudaTest}
 * (the CPU emulator of the kernels, with a small device's geometry and an H200's, in different
 * thread and block orders) and {@code GpuCudaTest} (a real GPU).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CudaBackendContract {
    private static final Backend CPU = Backend.cpu();
    private CudaBackend backend;
    private String unavailable;

    /** Opens the backend under test. @throws CudaUnavailableException saying why there is none here */
    protected abstract CudaBackend open();

    /**
     * Switches the device to other thread and block orders than it started with (true), or back
     * (false), where it can (the emulator): results that differ between orders come from a race.
     */
    protected void otherOrder(boolean other) {
    }

    /** The backend under test, in debug mode: its new tensors are filled with NaN. */
    protected CudaBackend cuda() {
        return backend;
    }

    @BeforeAll
    void openBackend() {
        System.setProperty("jnorm.cuda.debug", "true");
        String name = getClass().getSimpleName();
        try {
            backend = open();
            System.out.println(name + " on " + backend.description());
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage();
            System.out.println(name + ": every test skipped: " + unavailable);
        }
    }

    /** Per test, so that each one is reported as skipped. */
    @BeforeEach
    void requireBackend() {
        assumeTrue(backend != null, () -> "skipped: " + unavailable);
    }

    @AfterAll
    void closeBackend() {
        if (backend != null) {
            backend.close();
        }
    }

    /**
     * {@code -Djnorm.contract.cases=fast}: only the cases of at most 5000 values (one of most paths), for
     * runs under compute-sanitizer, which slows kernels a hundredfold.
     */
    static final boolean FAST = System.getProperty("jnorm.contract.cases", "all").equals("fast");

    static Stream<NormCase> cases() {
        return FAST ? all().filter(c -> c.shape().numel() <= 5000) : all();
    }

    private static Stream<NormCase> all() {
        return Stream.of(
                // rows: LayerNorm and RMSNorm
                NormCase.of("LayerNorm", Shape.of(3, 1), true, layer(1)),
                NormCase.of("LayerNorm", Shape.of(2, 3), true, layer(3)),
                NormCase.of("LayerNorm", Shape.of(4, 31), true, layer(31)),
                NormCase.of("LayerNorm", Shape.of(3, 33), true, layer(33)),
                NormCase.of("LayerNorm, float4 team rows", Shape.of(5, 32), true, layer(32)),
                NormCase.of("LayerNorm over 3 dims", Shape.of(1, 3, 7, 5), true, layer(3, 7, 5)),
                NormCase.of("LayerNorm, team rows of 256 threads", Shape.of(2, 1025), true, layer(1025)),
                NormCase.of("LayerNorm, block rows", Shape.of(2, 4097), true, layer(4097)),
                NormCase.of("LayerNorm, float4 team rows of 256 threads", Shape.of(2, 2048), true, layer(2048)),
                NormCase.of("LayerNorm, float4 block rows", Shape.of(2, 8196), true, layer(8196)),
                NormCase.of("LayerNorm", Shape.of(2, 2041), true, layer(2041)),
                NormCase.of("LayerNorm, more block rows than a small device's blocks", Shape.of(40, 4101), true,
                        layer(4101)),
                NormCase.of("LayerNorm, a row in over 48 KiB of shared memory (H200)", Shape.of(2, 20000), true,
                        layer(20000)),
                NormCase.of("LayerNorm, the longest row an H200 block holds (one: split, by the launch model)",
                        Shape.of(1, 57856), true, layer(57856)),
                NormCase.of("LayerNorm, rows split across blocks", Shape.of(1, 70001), true, layer(70001)),
                NormCase.of("LayerNorm, teams over several steps a block (small device)", Shape.of(1000, 100),
                        true, layer(100)),
                NormCase.of("LayerNorm, one team of 1024 threads a row", Shape.of(3, 8192), true,
                        layer(8192)),
                NormCase.of("RMSNorm", Shape.of(3, 33), true, rms(33)),
                NormCase.of("RMSNorm, float4 teams over several steps a block (small device)", Shape.of(600, 200),
                        true, rms(200)),
                NormCase.of("RMSNorm", Shape.of(2, 2041), true, rms(2041)),
                NormCase.of("RMSNorm, rows split across blocks", Shape.of(1, 70000), true, rms(70000)),
                // rows: GroupNorm and InstanceNorm
                NormCase.of("GroupNorm", Shape.of(1, 4, 1), true, group(2, 4)),
                NormCase.of("GroupNorm", Shape.of(2, 6, 5, 3), true, group(3, 6)),
                NormCase.of("GroupNorm G=1", Shape.of(1, 3, 31), true, group(1, 3)),
                NormCase.of("GroupNorm G=C", Shape.of(2, 4, 33), true, group(4, 4)),
                NormCase.of("GroupNorm, block rows", Shape.of(2, 2, 1025), true, group(1, 2)),
                NormCase.of("GroupNorm, more block rows than a small device's blocks", Shape.of(20, 4, 601), true,
                        group(2, 4)),
                NormCase.of("GroupNorm, a group in over 48 KiB of shared memory (H200)", Shape.of(2, 2, 7001), true,
                        group(1, 2)),
                NormCase.of("GroupNorm, group split across blocks", Shape.of(1, 2, 40000), true, group(1, 2)),
                NormCase.of("GroupNorm, groups split across blocks, channels over samples", Shape.of(2, 4, 30001), true,
                        group(2, 4)),
                NormCase.of("GroupNorm, float4 block rows of 2 channels", Shape.of(2, 4, 4100), true, group(2, 4)),
                NormCase.of("GroupNorm, block rows whose channels straddle float4s", Shape.of(2, 4, 2050), true,
                        group(1, 4)),
                NormCase.of("InstanceNorm", Shape.of(1, 1, 3), true, instance(1, false, false)),
                NormCase.of("InstanceNorm affine", Shape.of(2, 3, 31), true, instance(3, true, false)),
                NormCase.of("InstanceNorm tracked", Shape.of(2, 3, 33, 1), true, instance(3, true, true)),
                NormCase.of("InstanceNorm tracked", Shape.of(2, 3, 5), false, instance(3, true, true)),
                NormCase.of("InstanceNorm", Shape.of(1, 2, 2041), true, instance(2, true, false)),
                // channels: BatchNorm
                NormCase.of("BatchNorm", Shape.of(2, 3), true, batch(3)),
                NormCase.of("BatchNorm", Shape.of(17, 3), true, batch(3)),
                NormCase.of("BatchNorm [N, C], four channels a float4", Shape.of(37, 8), true, batch(8)),
                NormCase.of("BatchNorm [N, C], four channels a float4, many chunks", Shape.of(700, 12), true,
                        batch(12)),
                NormCase.of("BatchNorm [N, C], four channels a float4", Shape.of(37, 8), false, batch(8)),
                NormCase.of("BatchNorm", Shape.of(1, 3, 2), true, batch(3)),
                NormCase.of("BatchNorm, short spatial", Shape.of(3, 4, 31), true, batch(4)),
                NormCase.of("BatchNorm, long spatial", Shape.of(2, 3, 33), true, batch(3)),
                NormCase.of("BatchNorm", Shape.of(1, 2, 2041), true, batch(2)),
                NormCase.of("BatchNorm2d", Shape.of(2, 5, 7, 9), true, batch(5)),
                NormCase.of("BatchNorm, float4", Shape.of(2, 3, 36), true, batch(3)),
                NormCase.of("BatchNorm", Shape.of(3, 4, 31), false, batch(4)),
                NormCase.of("BatchNorm", Shape.of(2, 3, 33), false, batch(3)),
                // BatchNorm's variants
                NormCase.of("BatchRenorm, clipped", Shape.of(3, 4, 31), true, renorm(4)),
                NormCase.of("BatchRenorm [N, C]", Shape.of(37, 8), true, renorm(8)),
                NormCase.of("BatchRenorm", Shape.of(3, 4, 31), false, renorm(4)),
                NormCase.of("SyncBatchNorm, one rank", Shape.of(3, 4, 31), true, sync(4)),
                NormCase.of("SyncBatchNorm, one rank, [N, C]", Shape.of(37, 8), true, sync(8)),
                NormCase.of("SyncBatchNorm, one rank", Shape.of(2, 3, 33), false, sync(3)),
                NormCase.of("GhostBatchNorm, uneven virtual batches", Shape.of(5, 3, 33), true, ghost(3, 2)),
                NormCase.of("MeanOnlyBatchNorm", Shape.of(3, 4, 31), true, meanOnly(4)),
                NormCase.of("MeanOnlyBatchNorm", Shape.of(3, 4, 31), false, meanOnly(4)),
                // WeightNorm
                NormCase.weight("WeightNorm dim 0", Shape.of(5, 3, 3), 0),
                NormCase.weight("WeightNorm dim 1", Shape.of(5, 3, 3), 1),
                NormCase.weight("WeightNorm dim 2", Shape.of(5, 3, 3), 2),
                NormCase.weight("WeightNorm whole tensor", Shape.of(5, 3, 3), null),
                NormCase.weight("WeightNorm dim 0", Shape.of(33, 31), 0),
                NormCase.weight("WeightNorm whole tensor", Shape.of(1025), null),
                NormCase.weight("WeightNorm dim 1", Shape.of(2041, 3), 1),
                NormCase.weight("WeightNorm, more slices than a small device's blocks", Shape.of(40, 7), 0),
                // composites
                NormCase.of("BatchInstanceNorm", Shape.of(2, 3, 31), true, batchInstance(3)),
                NormCase.of("BatchInstanceNorm", Shape.of(1, 2, 33), true, batchInstance(2)),
                NormCase.of("BatchInstanceNorm2d", Shape.of(2, 4, 5, 5), false, batchInstance(4)),
                NormCase.of("BatchInstanceNorm", Shape.of(3, 2, 2041), true, batchInstance(2)),
                NormCase.of("SwitchableNorm", Shape.of(2, 3, 31), true, switchable(3)),
                NormCase.of("SwitchableNorm", Shape.of(2, 3), true, switchable(3)),
                NormCase.of("SwitchableNorm", Shape.of(1, 2, 33), true, switchable(2)),
                NormCase.of("SwitchableNorm", Shape.of(2, 3, 31), false, switchable(3)),
                NormCase.of("SwitchableNorm", Shape.of(3, 4, 33), false, switchable(4)),
                NormCase.of("SwitchableNorm", Shape.of(2, 2, 2041), true, switchable(2)),
                // three alike statistics: the mixing logits' gradients are small differences of them
                NormCase.of("SwitchableNorm", Shape.of(2, 2, 2041), true, switchable(2)).parameters(1189),
                // misaligned inputs take the scalar paths
                NormCase.of("LayerNorm", Shape.of(4, 32), true, layer(32)).misaligned(1),
                NormCase.of("LayerNorm", Shape.of(2, 2048), true, layer(2048)).misaligned(3),
                NormCase.of("BatchNorm [N, C]", Shape.of(9, 8), true, batch(8)).misaligned(1),
                NormCase.of("GroupNorm", Shape.of(2, 4, 36), true, group(2, 4)).misaligned(3),
                NormCase.of("InstanceNorm", Shape.of(2, 3, 36), true, instance(3, true, false)).misaligned(2),
                NormCase.of("BatchNorm", Shape.of(2, 3, 36), true, batch(3)).misaligned(1),
                NormCase.of("BatchInstanceNorm", Shape.of(2, 3, 36), true, batchInstance(3)).misaligned(1),
                NormCase.of("SwitchableNorm", Shape.of(2, 3, 36), true, switchable(3)).misaligned(1));
    }

    /**
     * Every norm with 16-bit storage (16-bit data, float32 parameters and statistics) matches the
     * float64 reference on the same rounded inputs within the design's 16-bit tolerances, forward and
     * backward.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("sixteenBitNorms")
    void everyNormWithSixteenBitStorageWithinTheSixteenBitTolerances(String norm, DType dtype) {
        Shape shape = Shape.of(3, 4, 5, 6);
        NormConfig config = NormConfig.defaults().groups(2).eps(1e-5);
        try (NormLayer<?> half = NormRegistry.named(norm).build(cuda(), shape, config, dtype);
             NormLayer<?> exact = NormRegistry.named(norm).build(CPU, shape, config, DType.FLOAT64)) {
            TestData.float32Parameters(half);
            TestData.float32Parameters(exact);
            SixteenBit.matchesFloat64(half, exact, shape, dtype, rounded(dtype, 1, shape.numel(), 3, 2),
                    rounded(dtype, 2, shape.numel(), 1, 0));
        }
    }

    static Stream<Arguments> sixteenBitNorms() {
        return Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> Arrays.stream(NormKind.values())
                .filter(s -> !s.reparameterizes()).map(s -> Arguments.of(s.commandName(), t)));
    }

    /** Standard normal values (seed), scaled and shifted, rounded to {@code dtype}. */
    private static double[] rounded(DType dtype, long seed, long n, double scale, double shift) {
        double[] v = TestData.randn(seed, (int) n);
        for (int i = 0; i < v.length; i++) {
            v[i] = dtype.round(scale * v[i] + shift);
        }
        return v;
    }

    /**
     * BatchNorm's 16-bit kernels on the shapes the channels family treats apart: [N, C] (the column
     * kernels, which take float4s of four channels in float32), short and long spatial sizes, rows and
     * [N, C] that take 16-byte packs of eight values (aligned, and at an offset of 8; the statistics
     * partials' chunks cut inside a segment), and inputs that start at an odd element; against float64.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("sixteenBitBatchShapes")
    void batchNormsSixteenBitKernelsOnEveryPathOfTheChannelsFamily(Shape shape, DType dtype, int offset) {
        int n = (int) shape.numel();
        double[] x = TestData.randn(5, n + offset);
        double[] dy = TestData.randn(6, n);
        for (int i = 0; i < x.length; i++) {
            x[i] = dtype.round(2 * x[i] + 1);
        }
        for (int i = 0; i < n; i++) {
            dy[i] = dtype.round(dy[i]);
        }
        double atol = SixteenBit.atol(dtype);
        double rtol = SixteenBit.rtol(dtype);
        long c = shape.dim(1);
        CudaBackend cuda = cuda();
        try (BatchNorm half = BatchNorm.builder(c).dtype(dtype).build(cuda);
             BatchNorm exact = BatchNorm.builder(c).dtype(DType.FLOAT64).build(CPU);
             Tensor storage = TestData.tensor(cuda, dtype, x, n + offset);
             Tensor xd = TestData.tensor(CPU, DType.FLOAT64, Arrays.copyOfRange(x, offset, n + offset), shape.dims());
             Tensor dyh = TestData.tensor(cuda, dtype, dy, shape.dims());
             Tensor dyd = TestData.tensor(CPU, DType.FLOAT64, dy, shape.dims());
             Tensor yh = half.forward(storage.view(offset, shape));
             Tensor yd = exact.forward(xd);
             Tensor dxh = half.backward(dyh);
             Tensor dxd = exact.backward(dyd)) {
            Close.assertClose(yd.toDoubleArray(), yh.toDoubleArray(), atol, rtol, shape + " output");
            Close.assertClose(dxd.toDoubleArray(), dxh.toDoubleArray(), atol, rtol, shape + " grad_input");
            Close.assertClose(exact.weight().grad().toDoubleArray(), half.weight().grad().toDoubleArray(), atol, rtol,
                    shape + " grad_weight");
            Close.assertClose(exact.runningVar().toDoubleArray(), half.runningVar().toDoubleArray(), atol, rtol,
                    shape + " running_var");
        }
    }

    /** The 16-bit cases, or under {@link #FAST} those of at most 5000 values, the shape their argument {@code at}. */
    private static Stream<Arguments> sixteenBit(Stream<Arguments> cases, int at) {
        return FAST ? cases.filter(a -> ((Shape) a.get()[at]).numel() <= 5000) : cases;
    }

    static Stream<Arguments> sixteenBitBatchShapes() {
        return sixteenBit(Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> Stream.of(
                Arguments.of(Shape.of(37, 8), t, 0), Arguments.of(Shape.of(700, 12), t, 0), Arguments.of(Shape.of(9, 8), t, 1),
                Arguments.of(Shape.of(3, 4, 31), t, 0), Arguments.of(Shape.of(2, 3, 36), t, 3),
                Arguments.of(Shape.of(2, 5, 7, 9), t, 0),
                Arguments.of(Shape.of(2, 3, 40), t, 0), Arguments.of(Shape.of(64, 16), t, 0), // 16-byte packs
                Arguments.of(Shape.of(2, 3, 40), t, 8),
                Arguments.of(Shape.of(2, 3, 40), t, 3), // rows of whole packs at an odd element: scalar
                Arguments.of(Shape.of(17, 3, 1000), t, 0), // packs; a channel's chunks cut inside a segment
                // packs of 8 channels, chunks of rows not a multiple of 4
                Arguments.of(Shape.of(700, 16), t, 0))), 0);
    }

    /**
     * The rows family's 16-bit kernels on each of its paths (as a small device's geometry takes them;
     * an H200's takes the fused backward in thread-block clusters): rows by teams, by blocks in shared
     * memory and split across blocks; the fused and block backward with their column partials;
     * GroupNorm's and InstanceNorm's one-pass backward and its split.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("sixteenBitRowsShapes")
    void theRowsFamilysSixteenBitKernelsOnEveryPath(String norm, Shape shape, DType dtype) {
        int n = (int) shape.numel();
        double[] x = TestData.randn(7, n);
        double[] dy = TestData.randn(8, n);
        for (int i = 0; i < n; i++) {
            x[i] = dtype.round(2 * x[i] - 1);
            dy[i] = dtype.round(dy[i]);
        }
        NormConfig config = NormConfig.defaults().groups(1).eps(1e-5).normalizedDims(1);
        try (NormLayer<?> half = NormRegistry.named(norm).build(cuda(), shape, config, dtype);
             NormLayer<?> exact = NormRegistry.named(norm).build(CPU, shape, config, DType.FLOAT64)) {
            SixteenBit.matchesFloat64(half, exact, shape, dtype, x, dy);
        }
    }

    static Stream<Arguments> sixteenBitRowsShapes() {
        return sixteenBit(Stream.of(DType.FLOAT16, DType.BFLOAT16).flatMap(t -> Stream.of(
                Arguments.of("layer", Shape.of(300, 100), t),   // teams over several steps, fused backward
                Arguments.of("layer", Shape.of(2, 4097), t),    // block rows; block backward, column partials
                Arguments.of("rms", Shape.of(1, 70001), t),     // split rows
                Arguments.of("group", Shape.of(2, 2, 1025), t), // block rows; the group on chip backward
                Arguments.of("group", Shape.of(1, 2, 40000), t), // a group split across blocks, and its backward
                Arguments.of("instance", Shape.of(2, 3, 2041), t),
                Arguments.of("layer", Shape.of(64, 96), t),     // teams of 16-byte packs, forward and fused backward
                Arguments.of("rms", Shape.of(8, 1024), t),
                Arguments.of("layer", Shape.of(2, 40000), t),  // split rows applied in 16-byte packs
                Arguments.of("layer", Shape.of(3, 8200), t),   // block rows of 16-byte packs (one chunk)
                Arguments.of("layer", Shape.of(260, 4100), t), // block rows; column partials of 2 chunks
                Arguments.of("rms", Shape.of(260, 8200), t),   // the same in 16-byte packs
                Arguments.of("group", Shape.of(2, 2, 4104), t), // the same, per-channel parameters
                Arguments.of("group", Shape.of(2, 4, 8, 8), t))), 1); // packs of one channel's run
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheCpuReference(NormCase c) {
        assertMatches(c, c.run(CPU, DType.FLOAT64), c.run(cuda(), DType.FLOAT32), 0);
    }

    /** @param gradRtol the relative part of the elementwise bound on gradients (their absolute part is 1e-4) */
    private static void assertMatches(NormCase c, Map<String, double[]> reference, Map<String, double[]> gpu,
                                      double gradRtol) {
        assertEquals(reference.keySet(), gpu.keySet());
        reference.forEach((name, ref) -> {
            double[] got = gpu.get(name);
            if (name.startsWith("grad_")) {
                Close.assertClose(ref, got, 1e-4, gradRtol, c + " " + name);
                double diff = 0;
                double norm = 0;
                for (int i = 0; i < ref.length; i++) {
                    diff += (got[i] - ref[i]) * (got[i] - ref[i]);
                    norm += ref[i] * ref[i];
                }
                assertTrue(Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm) + 1e-6 * Math.sqrt(ref.length),
                        c + " " + name + ": relative L2 error " + Math.sqrt(diff / norm));
            } else {
                Close.assertClose(ref, got, 1e-5, 1e-5, c + " " + name);
            }
        });
    }

    /** Deterministic, and free of races: on the emulator the second run takes other thread and block orders. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void twoRunsAreBitwiseIdenticalInAnyThreadAndBlockOrder(NormCase c) {
        Map<String, double[]> first = c.run(cuda(), DType.FLOAT32);
        otherOrder(true);
        try {
            Map<String, double[]> second = c.run(cuda(), DType.FLOAT32);
            first.forEach((name, values) -> assertArrayEquals(values, second.get(name), c + " " + name));
        } finally {
            otherOrder(false);
        }
    }

    /**
     * One SGD step of a small network (convolutions by im2col and GEMM, GroupNorm, BatchNorm, ReLU,
     * max and average pooling, a linear layer, softmax cross-entropy), on odd image sizes: logits,
     * loss, every gradient and every updated parameter as the CPU reference computes them.
     */
    @Test
    void aSmallNetworkTakesTheSameTrainingStepAsTheCpuReference() {
        Map<String, double[]> reference = trainingStep(CPU, DType.FLOAT64);
        Map<String, double[]> gpu = trainingStep(cuda(), DType.FLOAT32);
        assertEquals(reference.keySet(), gpu.keySet());
        reference.forEach((name, ref) -> Close.assertClose(ref, gpu.get(name), 1e-5, 1e-4, name));
    }

    /**
     * The same step with bfloat16 activations (mixed precision: float32 parameters, gradients and
     * SGD; GEMMs on bfloat16 inputs accumulating in fp32, cuBLAS's GemmEx on a GPU) against float64 on
     * the CPU: every output within a relative L2 error of 16 bfloat16 epsilons (12.5 %; what rounding
     * every activation and gradient to bfloat16 allows, measured below 4 % on the emulator; a wrong
     * index or transpose is 100 %). (float16 without loss scaling is not held to this: such a network's
     * gradients of ~1e-5 lie in float16's subnormals.)
     */
    @Test
    void aBfloat16TrainingStepFollowsFloat64() {
        Map<String, double[]> reference = trainingStep(CPU, DType.FLOAT64);
        Map<String, double[]> mixed = trainingStep(cuda(), DType.BFLOAT16);
        assertEquals(reference.keySet(), mixed.keySet());
        double allowed = 16 * DType.BFLOAT16.machineEpsilon();
        reference.forEach((name, ref) -> {
            double[] got = mixed.get(name);
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < ref.length; i++) {
                diff += (got[i] - ref[i]) * (got[i] - ref[i]);
                norm += ref[i] * ref[i];
            }
            double error = Math.sqrt(diff / Math.max(norm, Double.MIN_NORMAL));
            assertTrue(error <= allowed, name + ": relative L2 error " + error + " > " + allowed);
        });
    }

    @Test
    void aTrainingStepIsBitwiseReproducible() {
        Map<String, double[]> first = trainingStep(cuda(), DType.FLOAT32);
        Map<String, double[]> second = trainingStep(cuda(), DType.FLOAT32);
        first.forEach((name, values) -> assertArrayEquals(values, second.get(name), name));
    }

    private static Map<String, double[]> trainingStep(Backend b, DType t) {
        Init init = new Init(5);
        Map<String, double[]> out = new LinkedHashMap<>();
        try (Sequential net = new Sequential(List.of(new Conv2d(b, t, 1, 4, 3, true, init),
                GroupNorm.builder(2, 4).dtype(t).build(b), new Relu(b, t), new MaxPool2d(b, t),
                new Conv2d(b, t, 4, 6, 3, false, init), BatchNorm.builder(6).dtype(t).build(b), new Relu(b, t),
                new GlobalAvgPool(b, t), new Linear(b, t, 6, 5, init)));
             SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy();
             Sgd sgd = new Sgd(net.parameters(), 0.1, 0.9, 1e-3);
             Tensor x = b.allocate(Shape.of(3, 1, 9, 7), t);
             Tensor labels = b.allocate(Shape.of(3), t)) {
            x.copyFrom(NormCase.data(21, 3 * 9 * 7, 1, 0));
            labels.copyFrom(new double[] {4, 0, 2});
            try (Tensor logits = net.forward(x)) {
                out.put("logits", logits.toDoubleArray());
                out.put("loss", new double[] {loss.forward(logits, labels)});
                try (Tensor g = loss.backward(); Tensor dx = net.backward(g)) {
                    out.put("grad_input", dx.toDoubleArray());
                }
            }
            int i = 0;
            for (var p : net.parameters()) {
                out.put("grad " + i + " " + p.name(), p.grad().toDoubleArray());
                i++;
            }
            sgd.step();
            i = 0;
            for (var p : net.parameters()) {
                out.put("after step " + i + " " + p.name(), p.value().toDoubleArray());
                i++;
            }
        }
        return out;
    }

    @Test
    void clampRhoKeepsRhoInTheUnitIntervalAsTheCpuReferenceDoes() {
        double[] rho = {-0.5, 0.25, 1.75, Double.NaN, 0, 1};
        double[] clamped = {0, 0.25, 1, Double.NaN, 0, 1};
        for (Backend b : List.of(CPU, cuda())) {
            try (BatchInstanceNorm bin = BatchInstanceNorm.builder(rho.length).dtype(DType.FLOAT32).build(b)) {
                bin.rho().value().copyFrom(rho);
                bin.clampRho();
                assertArrayEquals(clamped, bin.rho().value().toDoubleArray(), b.description());
            }
        }
    }

    @Test
    void wrappedViewsAndCopiesMoveTheRightBytes() {
        try (Tensor t = cuda().upload(new float[] {1, 2, 3, 4, 5, 6}, Shape.of(6));
             Tensor u = cuda().empty(Shape.of(3), DType.FLOAT32)) {
            cuda().copy(t.view(2, Shape.of(3)), u);
            assertArrayEquals(new float[] {3, 4, 5}, u.toFloatArray());
            cuda().fill(t.view(4, Shape.of(2)), -1);
            assertArrayEquals(new float[] {1, 2, 3, 4, -1, -1}, t.toFloatArray());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cuda().empty(Shape.of(2), DType.FLOAT64));
            assertEquals("the cuda backend holds float32, float16 and bfloat16 tensors, not float64", e.getMessage());
        }
        // 16-bit tensors: patterns rounded once from double, at 2 bytes an element (views at odd offsets)
        try (Tensor h = cuda().empty(Shape.of(7), DType.FLOAT16);
             Tensor g = cuda().empty(Shape.of(3), DType.FLOAT16);
             Tensor b = cuda().allocate(Shape.of(2), DType.BFLOAT16);
             Tensor f = cuda().empty(Shape.of(3), DType.FLOAT32)) {
            double tiny = DType.FLOAT16.round(1e-7); // a subnormal
            h.copyFrom(new double[] {1, 2.5, 65504, 1e-7, -0.0, 70000, Double.NaN});
            assertEquals(java.util.Arrays.toString(new double[] {1, 2.5, 65504, tiny, -0.0, Double.POSITIVE_INFINITY,
                Double.NaN}), java.util.Arrays.toString(h.toDoubleArray()));
            cuda().copy(h.view(1, Shape.of(3)), g);
            assertEquals("[2.5, 65504.0, " + tiny + "]", java.util.Arrays.toString(g.toDoubleArray()));
            cuda().fill(h.view(3, Shape.of(1)), 0.1);
            assertEquals(DType.FLOAT16.round(0.1), h.toDoubleArray()[3]);
            assertEquals("[0.0, 0.0]", java.util.Arrays.toString(b.toDoubleArray()));
            b.copyFrom(new float[] {1.00390625f, 3e38f}); // a tie to even, and near bfloat16's largest
            assertEquals("[1.0, 3.00405527047391E38]", java.util.Arrays.toString(b.toDoubleArray()), "as PyTorch rounds");
            cuda().copy(g, f); // widened, as the CPU backend copies across dtypes
            assertEquals("[2.5, 65504.0, " + tiny + "]", java.util.Arrays.toString(f.toDoubleArray()));
            cuda().copy(g.view(0, Shape.of(2)), b); // float16 to bfloat16, rounded once: 65504 to 65536
            assertEquals("[2.5, 65536.0]", java.util.Arrays.toString(b.toDoubleArray()));
        }
    }

    /**
     * BatchNorm statistics and gradient sums merged from many partials (an H200 cuts each channel of
     * [2^22, 2] into ~10^5 chunks): forward and backward within the fp32 tolerances of the float64
     * reference, and the variance within 1e-6 of it, relative. Prints the variance error. A weight
     * gradient here sums 2^24 terms to about 2.5e3, whose fp32 spacing (2.4e-4) is above the 1e-4
     * absolute bound, so gradients also get the 1e-5 relative part the L2 bound already allows.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("manyPartials")
    void batchNormMergedFromManyPartialsMeetsTheFp32Tolerances(NormCase c) {
        assumeFalse(FAST, "left out of the fast cases");
        Map<String, double[]> reference = c.run(CPU, DType.FLOAT64);
        Map<String, double[]> gpu = c.run(cuda(), DType.FLOAT32);
        double[] refRstd = reference.get("saved_rstd");
        double[] rstd = gpu.get("saved_rstd");
        double worst = 0;
        for (int i = 0; i < rstd.length; i++) {
            double var = 1 / (rstd[i] * rstd[i]);
            double refVar = 1 / (refRstd[i] * refRstd[i]);
            worst = Math.max(worst, Math.abs(var - refVar) / refVar);
        }
        System.out.printf("%s: %s on %s: relative variance error %.2e%n", getClass().getSimpleName(), c,
                cuda().info().name(), worst);
        assertTrue(worst <= 1e-6, "relative variance error " + worst);
        assertMatches(c, reference, gpu, 1e-5);
    }

    static Stream<NormCase> manyPartials() {
        return Stream.of(NormCase.of("BatchNorm", Shape.of(1 << 22, 2), true, batch(2)),
                NormCase.of("BatchNorm", Shape.of(1 << 24, 1), true, batch(1)));
    }

    @Test
    void everyTensorIsClosedAfterTheCases() {
        long before = cuda().liveTensors();
        cases().limit(12).forEach(c -> c.run(cuda(), DType.FLOAT32));
        assertEquals(before, cuda().liveTensors());
        assertEquals(0, cuda().leakedTensors());
    }
}
