package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Ghost BatchNorm (Hoffer, Hubara and Soudry, 2017), over {@code [N, C, *]}: in training, BatchNorm
 * on each virtual batch of {@code virtualBatchSize} consecutive examples (the last may be smaller),
 * each normalized with its own statistics, and the running statistics updated once per virtual
 * batch, in order (so a cumulative average counts virtual batches); in evaluation, BatchNorm's with
 * the running statistics. A batch no larger than the virtual batch size is plain BatchNorm.
 */
public final class GhostBatchNorm extends RunningStatsNorm<GhostBatchNorm> {
    private final long virtualBatchSize;

    private GhostBatchNorm(Backend backend, Builder<GhostBatchNorm> builder, long virtualBatchSize) {
        super(backend, checked(builder, virtualBatchSize));
        this.virtualBatchSize = virtualBatchSize;
    }

    /** The builder, once the virtual batch size is found valid: before anything is allocated. */
    private static Builder<GhostBatchNorm> checked(Builder<GhostBatchNorm> builder, long virtualBatchSize) {
        if (virtualBatchSize < 1) {
            throw Checks.fail("virtual_batch_size must be positive, got " + virtualBatchSize);
        }
        return builder;
    }

    /**
     * A builder with BatchNorm's defaults (eps 1e-5, momentum 0.1, affine, tracking running statistics).
     *
     * @param numFeatures C
     * @param virtualBatchSize the examples of each virtual batch
     * @return a builder
     */
    public static Builder<GhostBatchNorm> builder(long numFeatures, long virtualBatchSize) {
        return new Builder<>(numFeatures, (b, builder) -> new GhostBatchNorm(b, builder, virtualBatchSize));
    }

    /** @return the examples of each virtual batch */
    public long virtualBatchSize() {
        return virtualBatchSize;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        boolean training = usesInputStatistics();
        long n = x.shape().rank() >= 1 ? x.shape().dim(0) : 0;
        int batches = (int) Math.max(1, (n + virtualBatchSize - 1) / virtualBatchSize);
        double[] factors = new double[batches]; // the running statistics' factor for each virtual batch, in order
        for (int k = 0; k < batches; k++) {
            factors[k] = factor(k);
        }
        GhostOutput out = Norms.ghostBatchNorm(x, values(weight(), bias()), running(), training, virtualBatchSize,
                factors, eps());
        if (training && x.numel() > 0) {
            for (int k = 0; k < batches; k++) {
                countBatch(x);
            }
        }
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        return ((GhostOutput) forward).backward(dy, values(weight(), bias()), grads(weight(), bias()));
    }

    @Override
    public GhostOutput lastForward() {
        return lastForward(GhostOutput.class);
    }
}
