package dev.jnorm.backend.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.backend.cuda.CudaException;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Order;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Resources;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the kernel emulator catches that a plain CPU run of the kernels misses, each shown on a
 * kernel with that defect planted ({@code cuda-kernels/emulator/planted.cu}). The emulator before
 * this one checked writes past a buffer's end only (a canary, up to 64 bytes on), gave shared
 * memory 16 bytes of slack, ran threads in one round-robin order (every thread to its next barrier
 * in turn, so no warp ever ran ahead) and blocks in one order, did not fuse multiplies and adds, and
 * checked no launch limit: each defect below passed it.
 */
@Tag("emulator")
class EmulatorCatchesPlantedDefectsTest {
    private EmulatedDevice device;

    @BeforeEach
    void open() {
        device = new EmulatedDevice(Geometry.SMALL);
        device.order(Order.FORWARD, Order.FORWARD, 1);
    }

    @AfterEach
    void close() {
        device.close();
    }

    private DevicePointer buffer(float... values) {
        DevicePointer p = device.allocate(4L * values.length);
        device.upload(p, values, 0, values.length);
        return p;
    }

    private DevicePointer nan(int n) {
        return device.allocate(4L * n); // the emulator fills new memory with NaN
    }

    private float[] read(DevicePointer p, int n) {
        float[] out = new float[n];
        device.download(p, out, 0, n);
        return out;
    }

    /** The fault the launch left, surfacing (as on a GPU) at the next call. */
    private CudaException fault() {
        CudaException e = assertThrows(CudaException.class, device::synchronize);
        assertTrue(e.sticky());
        return e;
    }

    @Test
    void aReadBeforeTheStartOfABufferFaults() {
        device.run("planted_read_before_start", 1, 32, 0, buffer(1, 2, 3, 4), nan(4), 4L);
        CudaException e = fault();
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.error());
        assertEquals("planted_read_before_start: illegal read of 4 bytes at byte offset -4 of a device buffer of 16 "
                + "bytes (block 0, thread 0)", e.getMessage());
    }

    @Test
    void aReadPastTheEndOfABufferFaults() {
        device.run("planted_read_past_end", 1, 32, 0, buffer(1, 2, 3, 4), nan(4), 4L);
        assertEquals("planted_read_past_end: illegal read of 4 bytes at byte offset 16 of a device buffer of 16 bytes "
                + "(block 0, thread 3)", fault().getMessage());
    }

    @Test
    void aWriteBeforeTheStartOfABufferFaults() {
        device.run("planted_write_before_start", 1, 32, 0, nan(4), 4L);
        assertEquals("planted_write_before_start: illegal write of 4 bytes at byte offset -4 of a device buffer of 16 "
                + "bytes (block 0, thread 0)", fault().getMessage());
    }

    @Test
    void sharedMemoryPastWhatTheLaunchGaveFaults() {
        device.run("planted_shared_past_launch_size", 1, 64, 4 * 40, nan(1), 40);
        assertEquals("planted_shared_past_launch_size: illegal write of 4 bytes at byte offset 160 of the launch's "
                + "dynamic shared memory of 160 bytes (block 0, thread 40)", fault().getMessage());
    }

    @Test
    void aStaticSharedArrayIndexedPastItsSizeFaults() {
        device.run("planted_static_shared_overrun", 1, 64, 0, nan(64));
        assertEquals("planted_static_shared_overrun: illegal write of 4 bytes at byte offset 128 of a static "
                + "__shared__ array of 128 bytes (block 0, thread 32)", fault().getMessage());
    }

    @Test
    void aMisalignedVectorAccessFaults() {
        device.run("planted_misaligned_vector", 1, 32, 0, buffer(1, 2, 3, 4, 5, 6, 7, 8), nan(4));
        CudaException e = fault();
        assertEquals("CUDA_ERROR_MISALIGNED_ADDRESS", e.error());
        assertEquals("planted_misaligned_vector: illegal read misaligned access of 16 bytes at byte offset 4 of a "
                + "device buffer of 32 bytes (block 0, thread 0)", e.getMessage());
    }

    @Test
    void aGlobalVectorLoadOfSharedMemoryFaults() {
        device.run("planted_global_load_of_shared", 1, 32, 0, buffer(1, 2, 3, 4), nan(4));
        CudaException e = fault();
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.error());
        assertEquals("planted_global_load_of_shared: illegal ld.global.v4 from shared memory: 16 bytes at byte offset 0 "
                + "of a static __shared__ array of 16 bytes (block 0, thread 0)", e.getMessage());
    }

    @Test
    void aMissingBarrierPassesWithLowerThreadsFirstAndShowsInReverseOrder() {
        DevicePointer y = nan(64);
        device.run("planted_missing_barrier", 1, 64, 0, y);
        float[] forward = read(y, 64);
        for (int t = 1; t < 64; t++) {
            assertEquals(t - 1, forward[t], "forward order hides the race: thread " + t);
        }
        device.order(Order.REVERSE, Order.REVERSE, 1);
        device.run("planted_missing_barrier", 1, 64, 0, y);
        float[] reverse = read(y, 64);
        assertTrue(Float.isNaN(reverse[1]), "in reverse order thread 1 reads before thread 0 writes");
    }

    @Test
    void aWarpRunningAheadOverwritesSharedMemoryOthersHaveNotReadYet() {
        DevicePointer y = nan(96);
        device.run("planted_overwrite_before_read", 1, 96, 0, y);
        float[] got = read(y, 96);
        assertEquals(100, got[0], "warp 0 read slot 0 before overwriting it");
        assertEquals(200, got[32], "warp 1 read slot 0 after warp 0, running ahead, overwrote it");
    }

    @Test
    void aWriteWriteRaceGivesDifferentResultsInDifferentOrders() {
        DevicePointer y = nan(1);
        device.run("planted_write_write_race", 4, 64, 0, y);
        float forward = read(y, 1)[0];
        device.order(Order.REVERSE, Order.REVERSE, 1);
        device.run("planted_write_write_race", 4, 64, 0, y);
        assertEquals(4 * 64 - 1, forward);
        assertNotEquals(forward, read(y, 1)[0]);
    }

    @Test
    void aDependencyBetweenBlocksOfOneLaunchShowsInReverseBlockOrder() {
        DevicePointer y = nan(9);
        device.run("planted_block_dependency", 8, 32, 0, y);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, java.util.Arrays.copyOfRange(read(y, 9), 1, 9));
        DevicePointer fresh = nan(9);
        device.order(Order.FORWARD, Order.REVERSE, 1);
        device.run("planted_block_dependency", 8, 32, 0, fresh);
        assertTrue(Float.isNaN(read(fresh, 9)[8]), "block 7 ran before block 6 wrote");
    }

    @Test
    void multiplyAndAddAreFusedAsNvccFusesThem() {
        float a = 0.1f;
        float b = 0.3f;
        DevicePointer y = nan(1);
        device.run("planted_fused_cancellation", 1, 32, 0, buffer(a), buffer(b), buffer(a), buffer(b), y, 1L);
        float got = read(y, 1)[0];
        float roundingError = Math.fma(a, b, -(a * b));
        assertNotEquals(0f, roundingError);
        assertEquals(Math.abs(roundingError), Math.abs(got), "a·b − a·b is the rounding error of a·b, not 0");
    }

    private static final int CLUSTER = Kernel.ROWS_BACKWARD_FUSED_CLUSTER.cluster();

    /** planted_cluster_exchange over 2 clusters of 64-thread blocks: what each thread read of the next block. */
    private float[] clusterExchange(int syncBefore, int syncAfter) {
        DevicePointer y = nan(2 * CLUSTER * 64);
        device.runClusters("planted_cluster_exchange", 2 * CLUSTER, 64, CLUSTER, 0, y, syncBefore, syncAfter);
        return read(y, 2 * CLUSTER * 64);
    }

    @Test
    void theBlocksOfAClusterReadEachOthersSharedMemoryBetweenClusterSyncs() {
        for (Order order : Order.values()) {
            device.order(order, order, 3);
            float[] got = clusterExchange(1, 1);
            for (int b = 0; b < 2 * CLUSTER; b++) {
                for (int t = 0; t < 64; t++) {
                    assertEquals(1000 * ((b + 1) % CLUSTER) + t, got[b * 64 + t], order + ": block " + b + ", " + t);
                }
            }
        }
    }

    @Test
    void aBlockReadingAnotherBlocksSharedMemoryBeforeTheClusterSyncReadsItUnwritten() {
        float[] got = clusterExchange(0, 1);
        assertTrue(Float.isNaN(got[0]), "block 0's warps ran before block 1's wrote");
    }

    @Test
    void aBlockLeavingBeforeTheOthersHaveReadItsSharedMemoryFaults() {
        device.runClusters("planted_cluster_exchange", 2 * CLUSTER, 64, CLUSTER, 0, nan(2 * CLUSTER * 64), 1, 0);
        assertEquals("planted_cluster_exchange: illegal read of 4 bytes at byte offset 0 of the shared memory of a "
                + "block of the cluster that has exited (block 7, thread 0)", fault().getMessage());
    }

    @Test
    void clusterKernelsNeedComputeCapabilityNineAndWholeClusters() {
        assertNull(EmulatedDevice.clusterRefusal("k", 8, Geometry.H200, 16));
        assertEquals("k: a grid of 12 blocks is not a whole number of clusters of 8",
                EmulatedDevice.clusterRefusal("k", 8, Geometry.H200, 12));
        assertEquals("k: thread-block clusters need compute capability 9.0; the small GPU (emulated) is 7.5",
                EmulatedDevice.clusterRefusal("k", 8, Geometry.SMALL, 16));
        CudaException e = assertThrows(CudaException.class,
                () -> device.launch(Kernel.ROWS_BACKWARD_FUSED_CLUSTER, CLUSTER, 1024, 0));
        assertEquals("CUDA_ERROR_INVALID_CLUSTER_SIZE", e.error());
        assertFalse(e.sticky());
    }

    @Test
    void launchesAGpuWouldRefuseAreRefused() {
        Resources small = new Resources(32, 0, 256);
        assertNull(EmulatedDevice.refusal("k", small, false, Geometry.H200, 1, 256, 48 << 10));
        assertEquals("k: 49156 bytes of dynamic and 0 of static shared memory, more than the 49152 a block may use "
                + "without the opt-in attribute", EmulatedDevice.refusal("k", small, false, Geometry.H200, 1, 256,
                (48 << 10) + 4));
        assertNull(EmulatedDevice.refusal("k", small, true, Geometry.H200, 1, 256, 227 << 10));
        assertEquals("k: 232452 bytes of dynamic and 512 of static shared memory, more than the 232448 a block may "
                + "use", EmulatedDevice.refusal("k", new Resources(32, 512, 256), true, Geometry.H200, 1, 256,
                (227 << 10) + 4));
        assertFalse(EmulatedDevice.refusal("k", small, true, Geometry.SMALL, 1, 256, (64 << 10) + 4) == null,
                "a small device opts in to 64 KiB only");
        assertEquals("k: a block of 1024 threads, more than its __launch_bounds__ of 256",
                EmulatedDevice.refusal("k", small, false, Geometry.H200, 1, 1024, 0));
        Resources heavy = new Resources(128, 0, 1024);
        assertNull(EmulatedDevice.refusal("k", heavy, false, Geometry.H200, 1, 512, 0));
        assertEquals("k: 1024 threads of 128 registers need 131072 registers, more than the 65536 of a block",
                EmulatedDevice.refusal("k", heavy, false, Geometry.H200, 1, 1024, 0));
        assertEquals("k: 513 threads of 121 registers need 69632 registers, more than the 65536 of a block",
                EmulatedDevice.refusal("k", new Resources(121, 0, 1024), false, Geometry.H200, 1, 513, 0),
                "registers go to whole warps, 256 at a time: 17 warps of 4096, though 513·121 < 65536");
        assertEquals("k: a grid of 0 blocks; a grid has 1 to 2147483647",
                EmulatedDevice.refusal("k", small, false, Geometry.H200, 0, 256, 0));
        assertEquals("k: a grid of 2147483648 blocks; a grid has 1 to 2147483647",
                EmulatedDevice.refusal("k", small, false, Geometry.H200, 1L << 31, 256, 0));
        assertEquals("k: a block of 1025 threads; a block has 1 to 1024",
                EmulatedDevice.refusal("k", new Resources(32, 0, 2048), false, Geometry.H200, 1, 1025, 0));
    }

    @Test
    void aRefusedLaunchFailsAtOnceAndLeavesTheDeviceUsable() {
        CudaException e = assertThrows(CudaException.class, () -> device.launch(Kernel.NC_APPLY, 1, 1024, 0));
        assertEquals("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", e.error());
        assertFalse(e.sticky());
        device.synchronize();
    }
}
