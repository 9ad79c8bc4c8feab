package dev.jnorm.norm;

import dev.jnorm.tensor.Tensor;

/**
 * A layer that keeps running statistics for evaluation: a running mean and, but for mean-only
 * BatchNorm, a running variance, with the count of batches that updated them.
 */
public interface TracksRunningStatistics {
    /**
     * The running mean, or null when running statistics are not tracked.
     *
     * @return the running mean {@code [C]}
     */
    Tensor runningMean();

    /**
     * The running (unbiased) variance, or null when not tracked or not kept.
     *
     * @return the running variance {@code [C]}
     */
    Tensor runningVar();

    /**
     * Whether it keeps a running variance when it tracks running statistics (all but mean-only
     * BatchNorm).
     *
     * @return true unless it keeps a mean only
     */
    default boolean keepsVariance() {
        return true;
    }

    /**
     * The batches that have updated the running statistics; 0 when they are not tracked.
     *
     * @return the count
     */
    long numBatchesTracked();

    /**
     * Sets the count of batches seen, as when restoring a checkpoint (it sets the next
     * cumulative-average factor).
     *
     * @param count the number of batches
     * @throws IllegalStateException when running statistics are not tracked
     */
    void setNumBatchesTracked(long count);
}
