package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.Tensor;

/**
 * Batch Renormalization (Ioffe, 2017) over {@code [N, C, *]}: BatchNorm whose training output is
 * corrected towards the running statistics, so that training and evaluation compute the same
 * function when the batch is small or not representative. With the batch's per-channel mean μ_B and
 * σ_B = sqrt(Var_B + eps), and the running μ and σ = sqrt(running_var + eps):
 * {@code r = clip(σ_B/σ, 1/rmax, rmax)}, {@code d = clip((μ_B − μ)/σ, −dmax, dmax)},
 * {@code y = γ·(r·(x − μ_B)/σ_B + d) + β}, where r and d are constants of the backward. Unclipped,
 * that is {@code γ·(x − μ)/σ + β}, evaluation's output. rmax = 1, dmax = 0 is BatchNorm; the paper
 * relaxes them during training (to 3 and 5, this layer's defaults), which {@link #setClipping} allows.
 * The running statistics are updated as BatchNorm's, and evaluation is BatchNorm's. It needs
 * running statistics.
 */
public final class BatchRenorm extends RunningStatsNorm<BatchRenorm> {
    /** The default rmax, the paper's final value. */
    public static final double DEFAULT_RMAX = 3;
    /** The default dmax, the paper's final value. */
    public static final double DEFAULT_DMAX = 5;

    private double rmax;
    private double dmax;

    private BatchRenorm(Backend backend, Builder<BatchRenorm> builder, double rmax, double dmax) {
        super(backend, checked(builder, rmax, dmax));
        this.rmax = rmax;
        this.dmax = dmax;
    }

    /** The builder, once its settings are found valid: before anything is allocated. */
    private static Builder<BatchRenorm> checked(Builder<BatchRenorm> builder, double rmax, double dmax) {
        Checks.renormClipping(rmax, dmax);
        if (!builder.tracksRunningStats()) {
            throw Checks.fail("Batch Renormalization needs running statistics (track_running_stats=True)");
        }
        return builder;
    }

    /**
     * A builder with BatchNorm's defaults (eps 1e-5, momentum 0.1, affine), rmax 3 and dmax 5.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder<BatchRenorm> builder(long numFeatures) {
        return builder(numFeatures, DEFAULT_RMAX, DEFAULT_DMAX);
    }

    /**
     * A builder with BatchNorm's defaults and the given clipping.
     *
     * @param numFeatures C
     * @param rmax r's bound, at least 1
     * @param dmax d's bound, non-negative
     * @return a builder
     */
    public static Builder<BatchRenorm> builder(long numFeatures, double rmax, double dmax) {
        return new Builder<>(numFeatures, (b, builder) -> new BatchRenorm(b, builder, rmax, dmax));
    }

    /**
     * Sets r's and d's bounds for the next forward passes (a schedule relaxes them as training goes).
     *
     * @param rmax r's bound, at least 1
     * @param dmax d's bound, non-negative
     */
    public void setClipping(double rmax, double dmax) {
        Checks.renormClipping(rmax, dmax);
        this.rmax = rmax;
        this.dmax = dmax;
    }

    /** @return r's bound: r is clipped to [1/rmax, rmax] */
    public double rmax() {
        return rmax;
    }

    /** @return d's bound: d is clipped to [−dmax, dmax] */
    public double dmax() {
        return dmax;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        RenormOutput out = Norms.batchRenorm(x, values(weight(), bias()), running(), isTraining(), nextFactor(), eps(),
                rmax, dmax);
        countBatch(x);
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        return ((RenormOutput) forward).backward(dy, values(weight(), bias()), grads(weight(), bias()));
    }

    @Override
    public RenormOutput lastForward() {
        return lastForward(RenormOutput.class);
    }
}
