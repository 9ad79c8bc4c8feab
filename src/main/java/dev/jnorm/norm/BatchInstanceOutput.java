package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Tensor;

/** A Batch-Instance forward pass: the output, both sets of statistics, and its {@link #backward}. */
public final class BatchInstanceOutput implements ForwardResult {
    private final Tensor input;
    private final Tensor output;
    private final BatchInstanceStats saved;
    private final NcsLayout layout;
    private final boolean batchStatistics;

    BatchInstanceOutput(Tensor input, Tensor output, BatchInstanceStats saved, NcsLayout layout,
                        boolean batchStatistics) {
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

    /** BatchNorm mean {@code [C]} and rstd, InstanceNorm mean {@code [N, C]} and rstd. */
    public BatchInstanceStats statistics() {
        return saved;
    }

    public boolean batchStatistics() {
        return batchStatistics;
    }

    /**
     * The gradient of the input; adds the gradients of rho, weight and bias into the gradient
     * buffers that are not null.
     */
    public Tensor backward(Tensor dy, Tensor rho, Tensor weight, Tensor gradRho, Tensor gradWeight, Tensor gradBias) {
        Checks.input(input, "the forward pass's input");
        Checks.gradOutput(input, dy);
        Checks.input(rho, "rho");
        long c = layout.c();
        Checks.parameter(input, "rho", rho, c);
        Checks.parameter(input, "weight", weight, c);
        Checks.parameter(input, "grad_rho", gradRho, c);
        Checks.parameter(input, "grad_weight", gradWeight, c);
        Checks.parameter(input, "grad_bias", gradBias, c);
        if (saved.batchRstd().isClosed()) {
            throw Checks.fail("the statistics saved by the forward pass are closed");
        }
        Backend backend = input.backend();
        try (Outputs out = new Outputs(backend, input.dtype())) {
            Tensor dx = out.empty(input.shape());
            if (input.numel() > 0) {
                backend.run(new BatchInstanceOp.Backward(layout, batchStatistics, input, dy, saved, rho, weight,
                        dx, gradRho, gradWeight, gradBias));
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
