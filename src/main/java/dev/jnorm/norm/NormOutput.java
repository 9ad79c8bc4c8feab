package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.tensor.Tensor;

/**
 * A forward pass of BatchNorm, InstanceNorm, GroupNorm, LayerNorm or RMSNorm: the output, the
 * per-group statistics that normalized it (mean, null for RMSNorm, and {@code rstd = 1/sqrt(var + eps)}),
 * and a {@link #backward} that uses them.
 */
public final class NormOutput implements ForwardResult {
    private final Tensor input;
    private final Tensor output;
    private final Tensor mean;
    private final Tensor rstd;
    private final RowsLayout rows;
    private final NcsLayout channels;
    private final boolean batchStatistics;
    private final long parameterElements;

    private NormOutput(Tensor input, Tensor output, Tensor mean, Tensor rstd, RowsLayout rows, NcsLayout channels,
                       boolean batchStatistics, long parameterElements) {
        this.input = input;
        this.output = output;
        this.mean = mean;
        this.rstd = rstd;
        this.rows = rows;
        this.channels = channels;
        this.batchStatistics = batchStatistics;
        this.parameterElements = parameterElements;
    }

    static NormOutput ofRows(Tensor input, Tensor output, Tensor mean, Tensor rstd, RowsLayout rows,
                             long parameterElements) {
        return new NormOutput(input, output, mean, rstd, rows, null, true, parameterElements);
    }

    static NormOutput ofChannels(Tensor input, Tensor output, Tensor mean, Tensor rstd, NcsLayout channels,
                                 boolean batchStatistics) {
        return new NormOutput(input, output, mean, rstd, null, channels, batchStatistics, channels.c());
    }

    @Override
    public Tensor output() {
        return output;
    }

    /** Mean per group; null for RMSNorm. */
    public Tensor mean() {
        return mean;
    }

    /** {@code 1/sqrt(var + eps)} per group ({@code 1/sqrt(mean(x²) + eps)} for RMSNorm). */
    public Tensor rstd() {
        return rstd;
    }

    /** True when the statistics came from the input, false when from running statistics. */
    public boolean batchStatistics() {
        return batchStatistics;
    }

    /**
     * The gradient of the input for {@code dy}, the gradient of the output; adds the gradients of
     * {@code weight} and {@code bias} into {@code gradWeight} and {@code gradBias} where not null.
     */
    public Tensor backward(Tensor dy, Tensor weight, Tensor gradWeight, Tensor gradBias) {
        Checks.input(input, "the forward pass's input");
        Checks.gradOutput(input, dy);
        Checks.parameter(input, "weight", weight, parameterElements);
        Checks.parameter(input, "grad_weight", gradWeight, parameterElements);
        Checks.parameter(input, "grad_bias", gradBias, parameterElements);
        if (rows != null && !rows.centered() && gradBias != null) {
            throw Checks.fail("RMSNorm has no bias to take a gradient for");
        }
        if (rstd.isClosed()) {
            throw Checks.fail("the statistics saved by the forward pass are closed");
        }
        Backend backend = input.backend();
        try (Outputs out = new Outputs(backend, input.dtype())) {
            Tensor dx = out.empty(input.shape());
            if (input.numel() > 0 && rows != null) {
                backend.run(new RowsOp.Backward(rows, input, dy, mean, rstd, weight, dx, gradWeight, gradBias));
            } else if (input.numel() > 0) {
                backend.run(new ChannelsOp.Backward(channels, batchStatistics, input, dy, mean, rstd, weight, dx, gradWeight,
                        gradBias));
            }
            out.keep();
            return dx;
        }
    }

    @Override
    public void closeSaved() {
        if (mean != null) {
            mean.close();
        }
        rstd.close();
    }
}
