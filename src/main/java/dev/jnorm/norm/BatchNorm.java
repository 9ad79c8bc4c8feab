package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Batch normalization over {@code [N, C]}, {@code [N, C, L]}, {@code [N, C, H, W]} or
 * {@code [N, C, D, H, W]} (BatchNorm1d, 2d, 3d by rank):
 * {@code y = (x − E[x])/sqrt(Var[x] + eps)·γ + β}, one mean and biased variance per channel over
 * N and the spatial dims in training; in evaluation, the running statistics when tracked.
 * Training updates {@code running = (1 − momentum)·running + momentum·batch} with the unbiased
 * variance.
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

    @Override
    public NormOutput lastForward() {
        return lastForward(NormOutput.class);
    }
}
