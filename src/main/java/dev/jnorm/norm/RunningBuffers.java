package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;

/**
 * A layer's running mean (initially 0), running variance (initially 1; none for a layer that keeps
 * only a mean) and count of batches tracked. The update factor is the momentum, or
 * {@code 1/numBatchesTracked} (a cumulative average) when the momentum is null.
 */
final class RunningBuffers implements AutoCloseable {
    final RunningStats stats;
    private final Double momentum;
    private long numBatchesTracked;

    RunningBuffers(Backend backend, long features, DType dtype, Double momentum) {
        this(backend, features, dtype, momentum, true);
    }

    /** @param variance whether to keep a running variance too */
    RunningBuffers(Backend backend, long features, DType dtype, Double momentum, boolean variance) {
        this.stats = new RunningStats(backend.allocate(Shape.of(features), dtype.parameterType()),
                variance ? backend.allocate(Shape.of(features), dtype.parameterType()) : null);
        if (variance) {
            backend.fill(stats.var(), 1);
        }
        this.momentum = momentum;
    }

    /** The factor for the next batch: the count is incremented before use, as in PyTorch. */
    double nextFactor() {
        return factor(0);
    }

    /** The factor for the batch {@code ahead} batches after the next (Ghost BatchNorm's virtual batches). */
    double factor(long ahead) {
        return momentum != null ? momentum : 1.0 / (numBatchesTracked + ahead + 1);
    }

    /** Records a batch that updated the statistics. */
    void countBatch() {
        numBatchesTracked++;
    }

    long numBatchesTracked() {
        return numBatchesTracked;
    }

    void setNumBatchesTracked(long count) {
        if (count < 0) {
            throw Checks.fail("num_batches_tracked must be non-negative, got " + count);
        }
        numBatchesTracked = count;
    }

    Double momentum() {
        return momentum;
    }

    @Override
    public void close() {
        stats.mean().close();
        if (stats.var() != null) {
            stats.var().close();
        }
    }
}
