package dev.jnorm.backend.cuda;

/**
 * Global-memory bytes kernels read and wrote, as the kernel emulator counts them: per launch, each
 * byte of a buffer once for reading and once for writing (the footprint DRAM sees when re-reads
 * within a launch hit in cache), summed over launches.
 */
public record MemoryTraffic(long read, long written) {
    /**
     * No traffic.
     */
    public static final MemoryTraffic NONE = new MemoryTraffic(0, 0);

    /**
     * All bytes moved.
     *
     * @return read + written
     */
    public long total() {
        return read + written;
    }

    /**
     * The sum of two counts.
     *
     * @param o another count
     * @return the sum
     */
    public MemoryTraffic plus(MemoryTraffic o) {
        return new MemoryTraffic(read + o.read, written + o.written);
    }

    /**
     * The difference of two counts, as between two snapshots.
     *
     * @param o an earlier count
     * @return the difference
     */
    public MemoryTraffic minus(MemoryTraffic o) {
        return new MemoryTraffic(read - o.read, written - o.written);
    }
}
