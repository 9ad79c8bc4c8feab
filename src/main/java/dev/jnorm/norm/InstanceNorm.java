package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Instance normalization over {@code [N, C, *spatial]} (1 to 3 spatial dims): each (n, c) is
 * normalized over its own spatial values, {@code y = (x − E[x])/sqrt(Var[x] + eps)·γ_c + β_c}.
 * PyTorch's defaults: no affine, no running statistics. With running statistics, training updates
 * them with the per-instance statistics averaged over the batch, and evaluation uses them.
 */
public final class InstanceNorm extends RunningStatsNorm<InstanceNorm> {

    private InstanceNorm(Backend backend, Builder<InstanceNorm> builder) {
        super(backend, builder);
    }

    /**
     * A builder with PyTorch's defaults: eps 1e-5, momentum 0.1, no affine, no running statistics.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder<InstanceNorm> builder(long numFeatures) {
        return new Builder<>(numFeatures, InstanceNorm::new).affine(false).trackRunningStats(false);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        Checks.rank(x.shape(), 3, 5);
        if ((weight() != null || runningMean() != null) && x.shape().dim(1) != numFeatures()) {
            throw Checks.fail("expected input's size at dim=1 to match num_features (" + numFeatures()
                    + "), but got: " + x.shape().dim(1) + ".");
        }
        NormOutput out = Norms.instanceNorm(x, values(weight(), bias()), running(), usesInputStatistics(),
                nextFactor(), eps());
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
