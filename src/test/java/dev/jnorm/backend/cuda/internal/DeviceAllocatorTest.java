package dev.jnorm.backend.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jnorm.backend.cuda.CudaOutOfMemoryException;
import dev.jnorm.backend.cuda.DeviceInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceAllocatorTest {

    /** A device with a fixed amount of memory that records what it is asked. */
    private static final class CountingDevice extends InertDevice {
        final List<Long> allocations = new ArrayList<>();
        int frees;
        int synchronizations;
        long free;

        CountingDevice(long memory) {
            free = memory;
        }

        private record Block(long bytes) implements DevicePointer {
            @Override
            public DevicePointer plus(long offset) {
                throw new UnsupportedOperationException();
            }
        }

        @Override
        public DevicePointer allocate(long bytes) {
            if (bytes > free) {
                throw new CudaOutOfMemoryException("out of memory allocating " + bytes);
            }
            free -= bytes;
            allocations.add(bytes);
            return new Block(bytes);
        }

        @Override
        public void free(DevicePointer pointer) {
            free += ((Block) pointer).bytes;
            frees++;
        }

        @Override
        public void synchronize() {
            synchronizations++;
        }

        @Override
        public DeviceInfo info() {
            return new DeviceInfo("counting", 9, 0, 1, 1 << 16, 1 << 20, free, "none");
        }
    }

    @Test
    void sizesRoundTo512BytesBelow1MiBAnd2MiBAbove() {
        assertEquals(512, DeviceAllocator.roundedSize(1));
        assertEquals(1024, DeviceAllocator.roundedSize(513));
        assertEquals(2L << 20, DeviceAllocator.roundedSize((1L << 20) + 1));
        assertEquals(4L << 20, DeviceAllocator.roundedSize((2L << 20) + 1));
    }

    @Test
    void aReleasedBlockIsReusedForTheSameRoundedSizeWithoutTouchingTheDevice() {
        CountingDevice device = new CountingDevice(1 << 20);
        DeviceAllocator allocator = new DeviceAllocator(device, true);
        DevicePointer a = allocator.allocate(700);
        allocator.release(a, 700);
        assertSame(a, allocator.allocate(1000));
        assertEquals(List.of(1024L), device.allocations);
        assertEquals(0, device.frees);
        assertEquals(1024, allocator.liveBytes());
    }

    @Test
    void outOfMemoryReleasesTheCacheAndTriesOnceMore() {
        CountingDevice device = new CountingDevice(4096);
        DeviceAllocator allocator = new DeviceAllocator(device, true);
        allocator.release(allocator.allocate(3000), 3000);
        DevicePointer big = allocator.allocate(4000);
        assertEquals(1, device.frees, "the cached 3072-byte block was freed to make room");
        assertEquals(1, device.synchronizations, "freeing waits for queued work");
        allocator.release(big, 4000);
        assertThrows(CudaOutOfMemoryException.class, () -> allocator.allocate(8192));
    }

    @Test
    void withoutCachingBlocksAreExactAndFreedAtOnce() {
        CountingDevice device = new CountingDevice(1 << 20);
        DeviceAllocator allocator = new DeviceAllocator(device, false);
        allocator.release(allocator.allocate(700), 700);
        assertEquals(List.of(700L), device.allocations);
        assertEquals(1, device.frees);
    }
}
