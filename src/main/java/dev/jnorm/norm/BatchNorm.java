package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Batch normalization over {@code [N, C]}, {@code [N, C, L]}, {@code [N, C, H, W]} or
 * {@code [N, C, D, H, W]} (BatchNorm1d, 2d, 3d by rank):
 * {@code y = (x − E[x])/sqrt(Var[x] + eps)·γ + β}, one mean and biased variance per channel over
 * N and the spatial dims in training; in evaluation, the running statistics when tracked.
 * Training updates {@code running = (1 − momentum)·running + momentum·batch} with the unbiased
 * variance. {@link #freeze()} makes a trained layer a {@link FrozenBatchNorm}.
 */
public final class BatchNorm extends RunningStatsNorm<BatchNorm> {

    private BatchNorm(Backend backend, Builder<BatchNorm> builder) {
        super(backend, builder);
    }

    /**
     * A builder with PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder<BatchNorm> builder(long numFeatures) {
        return new Builder<>(numFeatures, BatchNorm::new);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        NormOutput out = Norms.batchNorm(x, values(weight(), bias()), running(), usesInputStatistics(), nextFactor(),
                eps());
        countBatch(x);
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        NormOutput f = (NormOutput) forward;
        return f.backward(dy, values(weight(), bias()), grads(weight(), bias()));
    }

    /**
     * This layer's evaluation, fixed: a {@link FrozenBatchNorm} with copies of its weight and bias (1
     * and 0 without affine), running statistics and eps, on the same backend and dtype. This layer
     * is left as it is.
     *
     * @return the frozen layer, the caller's to close
     * @throws IllegalStateException when this layer tracks no running statistics
     */
    public FrozenBatchNorm freeze() {
        requireOpen();
        if (runningMean() == null) {
            throw new IllegalStateException("freeze() needs running statistics, which this BatchNorm does not track "
                    + "(trackRunningStats(false))");
        }
        FrozenBatchNorm frozen = FrozenBatchNorm.builder(numFeatures()).eps(eps()).dtype(dtype()).build(backend());
        if (weight() != null) {
            backend().copy(weight().value(), frozen.weight());
        }
        if (bias() != null) {
            backend().copy(bias().value(), frozen.bias());
        }
        backend().copy(runningMean(), frozen.runningMean());
        backend().copy(runningVar(), frozen.runningVar());
        return frozen;
    }

    @Override
    public NormOutput lastForward() {
        return lastForward(NormOutput.class);
    }
}
