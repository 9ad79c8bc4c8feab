package dev.jnorm.norm;

import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * One rank's end of a group of ranks that exchange statistics: {@link SyncBatchNorm}'s way to see
 * the whole batch when each rank (a thread, a GPU, a process) holds a part of it. The only
 * collective is an all-gather in rank order; whatever combines the gathered parts does so in rank
 * order too, so every rank computes bitwise the same result, and the same on every run.
 *
 * <p>Every rank of the group must make the same calls in the same order, with tensors of the same
 * shape: {@link #allGather} blocks until all have made it. Implementations: {@link InProcessReducer}
 * (ranks are threads of one JVM, on any backend) and {@code dev.jnorm.backend.cuda.NcclReducer}
 * (ranks are processes or GPUs, through NCCL).
 */
public interface StatsReducer extends AutoCloseable {

    /**
     * This end's rank.
     *
     * @return from 0 to {@link #ranks()} − 1
     */
    int rank();

    /**
     * The group's size.
     *
     * @return the number of ranks
     */
    int ranks();

    /**
     * Every rank's {@code local}, stacked in rank order: {@code [ranks, *local.shape]}, on
     * {@code local}'s backend and dtype, the same on every rank. Blocks until every rank has called.
     *
     * @param local this rank's part, of the same shape on every rank
     * @return the parts of all ranks, the caller's to close
     * @throws IllegalStateException when the group was closed or a rank left it
     */
    Tensor allGather(Tensor local);

    /**
     * The shape {@link #allGather} gives for parts of {@code local}'s shape: {@code [ranks, *local]}.
     *
     * @param local the shape of each rank's part
     * @return the gathered shape
     */
    default Shape gathered(Shape local) {
        long[] dims = new long[local.rank() + 1];
        dims[0] = ranks();
        System.arraycopy(local.dims(), 0, dims, 1, local.rank());
        return Shape.of(dims);
    }

    /** Leaves the group; ranks waiting in {@link #allGather} fail instead of waiting forever. Idempotent. */
    @Override
    void close();
}
