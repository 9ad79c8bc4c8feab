package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/** A mean-only BatchNorm forward: its output and the per-channel means that centered it. */
public final class MeanOnlyOutput extends SavedForward<Tensor> {
    private final NcsLayout layout;

    MeanOnlyOutput(Tensor input, Tensor output, Tensor mean, NcsLayout layout, boolean batchStatistics) {
        super(input, output, mean, batchStatistics);
        this.layout = layout;
    }

    /**
     * The per-channel means subtracted: the batch's, or the running ones.
     *
     * @return the means ([C])
     */
    public Tensor mean() {
        return statistics();
    }

    /**
     * The gradient of the input for {@code dy}; adds {@code Σ dy} into {@code gradBias} where not null.
     *
     * @param dy the output's gradient
     * @param gradBias the bias gradient, accumulated, or null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, Tensor gradBias) {
        Tensor x = checkedInput(dy);
        Checks.parameter(x, "grad_bias", gradBias, layout.c());
        Tensor mean = mean();
        return gradient(dx -> new MeanOnlyOp.Backward(layout, batchStatistics(), x, dy, mean, dx, gradBias));
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        return Map.of("mean", mean());
    }
}
