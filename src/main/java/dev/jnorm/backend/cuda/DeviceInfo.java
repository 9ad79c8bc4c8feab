package dev.jnorm.backend.cuda;

/**
 * What the backend needs to know about a device to size its launches and flush its cache.
 *
 * @param sharedMemoryPerBlock the most dynamic shared memory one block may use (the opt-in limit)
 * @param l2CacheBytes         the size of the L2 cache
 */
public record DeviceInfo(String name, int major, int minor, int multiprocessors, long sharedMemoryPerBlock,
                         long l2CacheBytes, long totalMemory, String driver) {

    /**
     * Whether it runs thread-block clusters.
     *
     * @return true for compute capability 9.0 or newer
     */
    public boolean hasClusters() {
        return major >= 9;
    }

    @Override
    public String toString() {
        return name + " (sm_" + major + minor + ", " + multiprocessors + " SMs, " + (totalMemory >> 20)
                + " MiB, driver " + driver + ")";
    }
}
