package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Batch-Instance normalization (Nam &amp; Kim, 2018) over {@code [N, C, *spatial]}:
 * {@code y = γ_c·(ρ_c·x̂_BN + (1 − ρ_c)·x̂_IN) + β_c}, a learned per-channel mix of BatchNorm
 * (batch statistics in training, running statistics in evaluation when tracked) and InstanceNorm
 * (always the input's statistics). ρ starts at 1 (pure BatchNorm); call {@link #clampRho()} after
 * each optimizer step to keep it in [0, 1].
 */
public final class BatchInstanceNorm extends RunningStatsNorm<BatchInstanceNorm> {
    private final Parameter rho;

    private BatchInstanceNorm(Backend backend, Builder<BatchInstanceNorm> builder) {
        super(backend, builder);
        this.rho = addParameter("rho", Shape.of(numFeatures()), 1);
    }

    /**
     * A builder with BatchNorm's defaults.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder<BatchInstanceNorm> builder(long numFeatures) {
        return new Builder<>(numFeatures, BatchInstanceNorm::new);
    }

    /**
     * The per-channel mix ρ between the BatchNorm and the InstanceNorm terms.
     *
     * @return ρ {@code [C]}
     */
    public Parameter rho() {
        return rho;
    }

    /** Clamps ρ to [0, 1], on the backend (no copy to the host). */
    public void clampRho() {
        requireOpen();
        backend().network().clamp(rho.value(), 0, 1);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        BatchInstanceOutput out = Norms.batchInstanceNorm(x, rho.value(), values(weight(), bias()), running(),
                usesInputStatistics(), nextFactor(), eps());
        countBatch(x);
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        BatchInstanceOutput f = (BatchInstanceOutput) forward;
        return f.backward(dy, rho.value(), values(weight(), bias()),
                rho.grad(), grads(weight(), bias()));
    }

    @Override
    public BatchInstanceOutput lastForward() {
        return lastForward(BatchInstanceOutput.class);
    }
}
