package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.Tensor;

/** A Switchable forward pass: the output, the mixed and component statistics, and its {@link #backward}. */
public final class SwitchableOutput implements ForwardResult {
    private final Tensor input;
    private final Tensor output;
    private final SwitchableStats saved;
    private final NcsLayout layout;
    private final boolean batchStatistics;

    SwitchableOutput(Tensor input, Tensor output, SwitchableStats saved, NcsLayout layout, boolean batchStatistics) {
        this.input = input;
        this.output = output;
        this.saved = saved;
        this.layout = layout;
        this.batchStatistics = batchStatistics;
    }

    @Override
    public Tensor output() {
        return output;
    }

    /** The mixed mean and rstd per (n, c), and the instance, layer and batch means and variances. */
    public SwitchableStats statistics() {
        return saved;
    }

    public boolean batchStatistics() {
        return batchStatistics;
    }

    /**
     * The gradient of the input; adds the gradients of both mixing logits, weight and bias into
     * the gradient buffers that are not null.
     */
    public Tensor backward(Tensor dy, Tensor meanWeight, Tensor varWeight, Tensor weight,
                           Tensor gradMeanWeight, Tensor gradVarWeight, Tensor gradWeight, Tensor gradBias) {
        Checks.input(input, "the forward pass's input");
        Checks.gradOutput(input, dy);
        Norms.checkMixingWeights(input, meanWeight, varWeight);
        Checks.parameter(input, "grad_mean_weight", gradMeanWeight, 3);
        Checks.parameter(input, "grad_var_weight", gradVarWeight, 3);
        long c = layout.c();
        Checks.parameter(input, "weight", weight, c);
        Checks.parameter(input, "grad_weight", gradWeight, c);
        Checks.parameter(input, "grad_bias", gradBias, c);
        if (saved.rstd().isClosed()) {
            throw Checks.fail("the statistics saved by the forward pass are closed");
        }
        Backend backend = input.backend();
        try (Outputs out = new Outputs(backend, input.dtype())) {
            Tensor dx = out.empty(input.shape());
            if (input.numel() > 0) {
                backend.run(new SwitchableOp.Backward(layout, batchStatistics, input, dy, saved, meanWeight, varWeight, weight,
                        dx, gradMeanWeight, gradVarWeight, gradWeight, gradBias));
            }
            out.keep();
            return dx;
        }
    }

    @Override
    public void closeSaved() {
        saved.close();
    }
}
