package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.backend.cuda.internal.Kernel;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.LayerNorm;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Which kernels the backend launches for a shape depends on the device: the path choices an H200
 * makes (a row of up to 57,856 values in a block's opt-in shared memory, more than 48 KiB of it
 * from 12,289 values on) and those a small device makes for the same shapes, as the kernels that
 * ran on the emulator show. And the memory traffic the emulator counts for an operation, to the byte.
 */
@Tag("emulator")
class EmulatedPathsTest {

    /** The kernels that ran for one forward of {@code layer} on a {@code shape} input. */
    private static Set<Kernel> forwardKernels(Geometry geometry, Shape shape,
                                              Function<CudaBackend, NormLayer<?>> layer) {
        return kernels(geometry, shape, layer, false);
    }

    /** The kernels that ran for one forward, or for the backward after it, of {@code layer}. */
    private static Set<Kernel> kernels(Geometry geometry, Shape shape, Function<CudaBackend, NormLayer<?>> layer,
                                       boolean backward) {
        EmulatedDevice device = new EmulatedDevice(geometry);
        try (CudaBackend cuda = new CudaBackend(device);
             NormLayer<?> norm = layer.apply(cuda);
             Tensor x = TestData.randn(cuda, 3, DType.FLOAT32, shape.dims());
             Tensor dy = TestData.randn(cuda, 4, DType.FLOAT32, shape.dims())) {
            Map<Kernel, MemoryTraffic> before = device.trafficByKernel();
            try (Tensor y = norm.forward(x)) {
                if (backward) {
                    before = device.trafficByKernel();
                    norm.backward(dy).close();
                }
                Map<Kernel, MemoryTraffic> start = before;
                Set<Kernel> ran = EnumSet.noneOf(Kernel.class);
                device.trafficByKernel().forEach((k, t) -> {
                    if (!t.equals(start.get(k))) {
                        ran.add(k);
                    }
                });
                return ran;
            }
        }
    }

    private static Function<CudaBackend, NormLayer<?>> layerNorm(long length) {
        return b -> LayerNorm.builder(length).build(b);
    }

    private static final Set<Kernel> SPLIT = EnumSet.of(Kernel.SEGMENTS_WELFORD_PARTIAL, Kernel.WELFORD_FINALIZE,
            Kernel.ROWS_APPLY_VEC);

    @Test
    void rowsTakeTheTeamTheBlockOrTheSplitPathByLengthSharedMemoryAndPredictedTime() {
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_TEAM_VEC), forwardKernels(Geometry.H200, Shape.of(4, 8192),
                layerNorm(8192)), "8 values for each of 1024 threads");
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_TEAM), forwardKernels(Geometry.H200, Shape.of(4, 4095),
                layerNorm(4095)), "4 values for each of 1024 threads without float4");
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK), forwardKernels(Geometry.H200, Shape.of(4, 4097),
                layerNorm(4097)));
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK_VEC), forwardKernels(Geometry.H200, Shape.of(2, 8196),
                layerNorm(8196)));
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK_VEC), forwardKernels(Geometry.H200, Shape.of(2, 12288),
                layerNorm(12288)), "48 KiB of dynamic shared memory plus the static: the opt-in attribute");
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK_VEC), forwardKernels(Geometry.H200, Shape.of(1, 20000),
                layerNorm(20000)));
        assertEquals(EnumSet.of(Kernel.SEGMENTS_WELFORD_PARTIAL, Kernel.WELFORD_FINALIZE, Kernel.ROWS_APPLY),
                forwardKernels(Geometry.SMALL, Shape.of(1, 20001), layerNorm(20001)), "without float4");
        assertEquals(SPLIT, forwardKernels(Geometry.SMALL, Shape.of(1, 20000), layerNorm(20000)),
                "80 KB is more than a small device's 64 KiB");
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK_VEC), forwardKernels(Geometry.H200, Shape.of(64, 57856),
                layerNorm(57856)), "the longest row an H200 block holds: 227 KiB less 1 KiB");
        assertEquals(SPLIT, forwardKernels(Geometry.H200, Shape.of(16, 57856), layerNorm(57856)),
                "16 rows busy 16 SMs: the split passes, which fill the device, are predicted faster");
        assertEquals(SPLIT, forwardKernels(Geometry.H200, Shape.of(1, 57860), layerNorm(57860)));
        assertEquals(EnumSet.of(Kernel.ROWS_FORWARD_BLOCK), forwardKernels(Geometry.H200, Shape.of(2, 4, 5001),
                b -> GroupNorm.builder(2, 4).build(b)), "a group of 10002 values, not a multiple of 4");
    }

    @Test
    void rowsBackwardIsOnePassWhereTheTeamsColumnSumsFitInSharedMemory() {
        // an H200 (compute capability 9.0) runs the fused backward in thread-block clusters
        Set<Kernel> fused = EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_CLUSTER_VEC, Kernel.SUMS_FINALIZE);
        assertEquals(fused, kernels(Geometry.H200, Shape.of(64, 2048), layerNorm(2048), true));
        assertEquals(fused, kernels(Geometry.H200, Shape.of(2, 8192), layerNorm(8192), true),
                "one team of 1024 threads, 64 KiB of column sums: the opt-in attribute");
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_CLUSTER, Kernel.SUMS_FINALIZE),
                kernels(Geometry.H200, Shape.of(64, 1001), layerNorm(1001), true));
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_VEC, Kernel.SUMS_FINALIZE),
                kernels(Geometry.SMALL, Shape.of(64, 1000), layerNorm(1000), true), "compute capability 7.5");
        System.setProperty("jnorm.cuda.clusters", "false");
        try {
            assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_VEC, Kernel.SUMS_FINALIZE),
                    kernels(Geometry.H200, Shape.of(64, 2048), layerNorm(2048), true), "clusters turned off");
        } finally {
            System.clearProperty("jnorm.cuda.clusters");
        }
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED, Kernel.SUMS_FINALIZE),
                kernels(Geometry.SMALL, Shape.of(64, 1001), layerNorm(1001), true));
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_VEC), kernels(Geometry.H200, Shape.of(4, 2048),
                b -> LayerNorm.builder(2048).elementwiseAffine(false).build(b), true),
                "no column sums to add across blocks, so no clusters");
        // a few rows: one chunk of column sums, added into the gradients by the partial kernel itself
        Set<Kernel> split = EnumSet.of(Kernel.ROWS_BACKWARD_BLOCK_VEC, Kernel.ROWS_PARAM_GRADS_PARTIAL_VEC);
        assertEquals(split, kernels(Geometry.SMALL, Shape.of(4, 2048), layerNorm(2048), true),
                "column sums of 64 KiB are more than a small device's 64 KiB less the static");
        assertEquals(split, kernels(Geometry.H200, Shape.of(2, 8196), layerNorm(8196), true),
                "more than 8 values for each of 1024 threads");
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_BLOCK, Kernel.ROWS_PARAM_GRADS_PARTIAL),
                kernels(Geometry.H200, Shape.of(2, 8194), layerNorm(8194), true), "rows not a multiple of 4");
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_BLOCK_VEC, Kernel.ROWS_PARAM_GRADS_PARTIAL_VEC,
                Kernel.SUMS_FINALIZE), kernels(Geometry.SMALL, Shape.of(300, 2048), layerNorm(2048), true),
                "over 256 rows: chunks of at most 256, their partials added by sums_finalize");
        assertEquals(EnumSet.of(Kernel.ROWS_BACKWARD_FUSED_VEC), kernels(Geometry.SMALL, Shape.of(4, 2048),
                b -> LayerNorm.builder(2048).elementwiseAffine(false).build(b), true),
                "without parameters no column sums, so no shared memory");
    }

    @Test
    void batchNormOfTwoDimensionalInputStreamsFourChannelsAFloat4() {
        Function<CudaBackend, NormLayer<?>> bn = b -> BatchNorm.builder(64).build(b);
        assertEquals(EnumSet.of(Kernel.COLUMNS_WELFORD_PARTIAL_VEC, Kernel.WELFORD_FINALIZE,
                Kernel.CHANNEL_COEFFICIENTS, Kernel.NC_APPLY_VEC), kernels(Geometry.H200, Shape.of(512, 64), bn, false));
        assertEquals(EnumSet.of(Kernel.COLUMNS_SUMS_PARTIAL_VEC, Kernel.SUMS_FINALIZE,
                Kernel.CHANNEL_BACKWARD_COEFFICIENTS, Kernel.NC_APPLY_BACKWARD_VEC),
                kernels(Geometry.H200, Shape.of(512, 64), bn, true));
        assertEquals(EnumSet.of(Kernel.COLUMNS_WELFORD_PARTIAL, Kernel.WELFORD_FINALIZE, Kernel.CHANNEL_COEFFICIENTS,
                Kernel.NC_APPLY), kernels(Geometry.H200, Shape.of(512, 66), b -> BatchNorm.builder(66).build(b), false),
                "66 channels: not a multiple of 4");
    }

    @Test
    void theTrafficCounterCountsEachByteAnOperationReadsOrWritesOnce() {
        EmulatedDevice device = new EmulatedDevice(Geometry.H200);
        try (CudaBackend cuda = new CudaBackend(device);
             GroupNorm gn = GroupNorm.builder(2, 4).build(cuda);
             Tensor x = TestData.randn(cuda, 3, DType.FLOAT32, 2, 4, 1000)) {
            cuda.resetTraffic();
            try (Tensor y = gn.forward(x)) {
                // rows_forward_block_vec: x once (8000 floats), weight and bias (4 each); y, and a mean
                // and rstd for each of the 4 rows (n, group).
                assertEquals(Map.of("rows forward", new MemoryTraffic(4 * (8000 + 8), 4 * (8000 + 8))),
                        cuda.trafficByOperation());
            }
        }
    }
}
