package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Switchable normalization (Luo et al., 2018) over {@code [N, C, *]}: per (n, c),
 * {@code μ = Σ_k softmax(meanWeight)_k·μ_k} and {@code σ² = Σ_k softmax(varWeight)_k·σ²_k} over
 * k = instance (per (n, c)), layer (per n) and batch (per c) statistics, all variances biased;
 * {@code y = (x − μ)/sqrt(σ² + eps)·γ_c + β_c}. The logits start at 0 (equal mix). In evaluation
 * the batch term uses the running statistics when tracked; the others always use the input's.
 */
public final class SwitchableNorm extends RunningStatsNorm<SwitchableNorm> {
    private final Parameter meanWeight;
    private final Parameter varWeight;

    private SwitchableNorm(Backend backend, Builder<SwitchableNorm> builder) {
        super(backend, builder);
        this.meanWeight = addParameter("mean_weight", Shape.of(3), 0);
        this.varWeight = addParameter("var_weight", Shape.of(3), 0);
    }

    /**
     * A builder with BatchNorm's defaults.
     *
     * @param numFeatures C
     * @return a builder
     */
    public static Builder<SwitchableNorm> builder(long numFeatures) {
        return new Builder<>(numFeatures, SwitchableNorm::new);
    }

    /**
     * Mixing logits of the means, in the order instance, layer, batch.
     *
     * @return the logits {@code [3]}
     */
    public Parameter meanWeight() {
        return meanWeight;
    }

    /**
     * Mixing logits of the variances, in the order instance, layer, batch.
     *
     * @return the logits {@code [3]}
     */
    public Parameter varWeight() {
        return varWeight;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        SwitchableOutput out = Norms.switchableNorm(x, new MixingWeights(meanWeight.value(), varWeight.value()),
                values(weight(), bias()), running(), usesInputStatistics(), nextFactor(), eps());
        countBatch(x);
        return remember(out).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        SwitchableOutput f = (SwitchableOutput) forward;
        return f.backward(dy, new MixingWeights(meanWeight.value(),
                varWeight.value()), values(weight(), bias()), new MixingWeights(meanWeight.grad(), varWeight.grad()),
                grads(weight(), bias()));
    }

    @Override
    public SwitchableOutput lastForward() {
        return lastForward(SwitchableOutput.class);
    }
}
