package dev.jnorm.backend.cuda.internal;

import dev.jnorm.backend.cuda.CudaOutOfMemoryException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * A caching allocator over a {@link GpuDevice}: freed blocks are kept by rounded size and reused,
 * since freeing device memory synchronizes the device. Reuse is safe because every use of memory
 * is queued on the device's one stream in order. On out-of-memory the cache is released and the
 * allocation tried once more. Not thread-safe: the backend serializes calls.
 *
 * <p>Without caching (debug mode), every block has exactly the size asked for and is freed on
 * release, so that tools guarding the end of each device allocation guard each tensor's end.
 */
public final class DeviceAllocator {
    private static final long SMALL = 1L << 20;
    private static final long SMALL_GRANULE = 512;
    private static final long LARGE_GRANULE = 2L << 20;

    private final GpuDevice device;
    private final boolean caching;
    private final Map<Long, Deque<DevicePointer>> cached = new HashMap<>();
    private long cachedBytes;
    private long liveBytes;

    public DeviceAllocator(GpuDevice device, boolean caching) {
        this.device = device;
        this.caching = caching;
    }

    static long roundedSize(long bytes) {
        long granule = bytes < SMALL ? SMALL_GRANULE : LARGE_GRANULE;
        return Math.max(granule, (bytes + granule - 1) / granule * granule);
    }

    public DevicePointer allocate(long bytes) {
        long size = caching ? roundedSize(bytes) : bytes;
        Deque<DevicePointer> free = cached.get(size);
        DevicePointer p;
        if (free != null && !free.isEmpty()) {
            p = free.pop();
            cachedBytes -= size;
        } else {
            try {
                p = device.allocate(size);
            } catch (CudaOutOfMemoryException e) {
                releaseCached();
                p = device.allocate(size);
            }
        }
        liveBytes += size;
        return p;
    }

    public void release(DevicePointer p, long bytes) {
        if (!caching) {
            device.free(p);
            liveBytes -= bytes;
            return;
        }
        long size = roundedSize(bytes);
        cached.computeIfAbsent(size, s -> new ArrayDeque<>()).push(p);
        cachedBytes += size;
        liveBytes -= size;
    }

    /** Frees every cached block back to the device. */
    public void releaseCached() {
        if (cachedBytes == 0) {
            return;
        }
        device.synchronize();
        cached.values().forEach(q -> q.forEach(device::free));
        cached.clear();
        cachedBytes = 0;
    }

    long liveBytes() {
        return liveBytes;
    }
}
