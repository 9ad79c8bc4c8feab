package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Synchronized batch normalization over {@code [N, C, *]}: BatchNorm whose training statistics are
 * those of the union of the local batches of a group of ranks (threads, GPUs or processes), so
 * that K devices of 8 examples each normalize as one batch of 8K. Per channel, each rank's count,
 * mean and biased variance are gathered and merged by Chan's formula in rank order; every rank
 * normalizes its own examples with the merged statistics and updates its running statistics with
 * them (identical on every rank). Backward gathers each rank's {@code Σ dy} and
 * {@code Σ dy·(x − mean)}: {@code dx} is BatchNorm's on the whole batch; the weight's and bias'
 * gradients are this rank's own, which data parallelism adds (or averages) across ranks as it does
 * every parameter's. Unequal local batches, a rank with no examples included, give BatchNorm's
 * results on the concatenated batch. Evaluation is BatchNorm's on each rank alone.
 *
 * <p>Every rank must call forward and backward in the same order. The group is a
 * {@link StatsReducer}: {@link InProcessReducer} for threads of one JVM, or NCCL's
 * ({@code dev.jnorm.backend.cuda.NcclReducer}) across processes and hosts.
 */
public final class SyncBatchNorm extends RunningStatsNorm<SyncBatchNorm> {
    private final StatsReducer reducer;

    private SyncBatchNorm(Backend backend, Builder<SyncBatchNorm> builder, StatsReducer reducer) {
        super(backend, checked(builder, reducer));
        this.reducer = reducer;
    }

    private static Builder<SyncBatchNorm> checked(Builder<SyncBatchNorm> builder, StatsReducer reducer) {
        if (reducer == null) {
            throw Checks.fail("reducer must not be null");
        }
        return builder;
    }

    /**
     * A builder with BatchNorm's defaults (eps 1e-5, momentum 0.1, affine, tracking running statistics).
     *
     * @param numFeatures C
     * @param reducer this rank's end of the group, which the layer uses but does not close
     * @return a builder
     */
    public static Builder<SyncBatchNorm> builder(long numFeatures, StatsReducer reducer) {
        return new Builder<>(numFeatures, (b, builder) -> new SyncBatchNorm(b, builder, reducer));
    }

    /** @return this rank's end of the group */
    public StatsReducer reducer() {
        return reducer;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        SyncOutput out = Norms.syncBatchNorm(x, values(weight(), bias()), running(), isTraining(), nextFactor(), eps(),
                reducer);
        if (isTraining() && out.totalCount() > 0) {
            countBatch();
        }
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        return ((SyncOutput) forward).backward(dy, values(weight(), bias()), grads(weight(), bias()));
    }

    @Override
    public SyncOutput lastForward() {
        return lastForward(SyncOutput.class);
    }
}
