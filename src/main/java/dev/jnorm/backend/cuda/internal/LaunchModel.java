package dev.jnorm.backend.cuda.internal;

import java.util.function.LongToDoubleFunction;

/**
 * The time model the launch plans choose by, where a choice trades bytes against parallelism (the
 * blocks of a pass that writes per-block partials, one pass on chip against a split pass). A pass
 * that moves {@code bytes} while {@code inFlight} bytes of loads are outstanding across the device
 * takes {@code bytes / min(bandwidth, inFlight / latency)} (Little's law: a memory system with
 * {@code latency} seconds per round trip delivers at most what is in flight per round trip), and
 * each launch adds {@code launch} seconds. docs/performance.md states the same model and the
 * predictions it makes for the benchmark shapes. Internal: not part of the API.
 *
 * @param bandwidth bytes per second the device copies at (reads plus writes)
 * @param latency   seconds of loaded DRAM latency
 * @param launch    seconds a dependent launch adds
 */
public record LaunchModel(double bandwidth, double latency, double launch) {
    /**
     * An H100/H200 until a device's own figures are measured: 4.3 TB/s (an H200's copy), 0.6 µs,
     * 2 µs. Only ratios of these matter to a choice: {@code bandwidth·latency} (2.6 MB) is what
     * must be in flight for the full bandwidth, {@code bandwidth·launch} what a launch is worth.
     */
    public static final LaunchModel HOPPER = new LaunchModel(4.3e12, 0.6e-6, 2e-6);

    /** Seconds for one pass moving {@code bytes} with {@code inFlight} bytes outstanding. */
    public double seconds(double bytes, double inFlight) {
        return bytes / Math.min(bandwidth, inFlight / latency) + launch;
    }

    /**
     * The number of blocks in [{@code least}, {@code most}] that minimizes the time of a pass whose
     * block count sets both its bytes and its loads in flight (the first minimum, so fewer blocks on
     * a tie).
     *
     * @param bytes    bytes moved with {@code blocks} blocks
     * @param inFlight bytes in flight with {@code blocks} blocks
     */
    public long bestBlocks(long least, long most, LongToDoubleFunction bytes, LongToDoubleFunction inFlight) {
        long best = least;
        double bestSeconds = Double.POSITIVE_INFINITY;
        for (long b = least; b <= most; b++) {
            double t = seconds(bytes.applyAsDouble(b), inFlight.applyAsDouble(b));
            if (t < bestSeconds) {
                best = b;
                bestSeconds = t;
            }
        }
        return best;
    }
}
