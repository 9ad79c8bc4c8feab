package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.tensor.Tensor;
import java.util.Map;
import java.util.LinkedHashMap;

/**
 * A forward pass of BatchNorm, InstanceNorm, GroupNorm, LayerNorm or RMSNorm: the output, the
 * per-group statistics that normalized it (mean, null for RMSNorm, and {@code rstd = 1/sqrt(var + eps)}),
 * and a {@link #backward} that uses them.
 */
public final class NormOutput extends SavedForward<NormOutput.Statistics> {
    private final RowsLayout rows;
    private final NcsLayout channels;
    private final long parameterElements;

    /** The per-group statistics: mean (null for RMSNorm) and rstd. */
    public record Statistics(Tensor mean, Tensor rstd) implements AutoCloseable {
        @Override
        public void close() {
            if (mean != null) {
                mean.close();
            }
            rstd.close();
        }
    }

    private NormOutput(Tensor input, Tensor output, Tensor mean, Tensor rstd, RowsLayout rows, NcsLayout channels,
                       boolean batchStatistics, long parameterElements) {
        super(input, output, new Statistics(mean, rstd), batchStatistics);
        this.rows = rows;
        this.channels = channels;
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

    /**
     * Mean per group; null for RMSNorm.
     *
     * @return the means, or null
     */
    public Tensor mean() {
        return statistics().mean();
    }

    /**
     * {@code 1/sqrt(var + eps)} per group ({@code 1/sqrt(mean(x²) + eps)} for RMSNorm).
     *
     * @return the reciprocal standard deviations
     */
    public Tensor rstd() {
        return statistics().rstd();
    }

    /**
     * The gradient of the input for {@code dy}, the gradient of the output; adds the gradients of
     * the affine weight and bias into {@code grads}' weight and bias where not null. Only the
     * weight of {@code affine} enters the gradient.
     *
     * @param dy the output's gradient
     * @param affine the affine parameters the forward used
     * @param grads the affine parameters' gradients, accumulated where not null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, Affine affine, Affine grads) {
        Tensor x = checkedInput(dy);
        Checks.affineBackward(x, affine, grads, parameterElements);
        if (rows != null && !rows.centered() && grads.bias() != null) {
            throw Checks.fail("RMSNorm has no bias to take a gradient for");
        }
        Tensor mean = mean();
        Tensor rstd = rstd();
        return gradient(dx -> rows != null
                ? new RowsOp.Backward(rows, x, dy, mean, rstd, affine.weight(), dx, grads.weight(), grads.bias())
                : new ChannelsOp.Backward(channels, batchStatistics(), x, dy, mean, rstd, affine.weight(), dx,
                grads.weight(), grads.bias()));
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        Map<String, Tensor> saved = new LinkedHashMap<>();
        if (mean() != null) {
            saved.put("mean", mean());
        }
        saved.put("rstd", rstd());
        return saved;
    }
}
