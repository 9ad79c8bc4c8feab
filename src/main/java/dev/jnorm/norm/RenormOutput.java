package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/**
 * A Batch Renormalization forward: its output, and per channel the mean and rstd that normalized it
 * (the batch's in training, the running statistics' in evaluation) and, in training, the r and d
 * that corrected it towards the running statistics.
 */
public final class RenormOutput extends SavedForward<RenormOutput.Saved> {
    private final NcsLayout layout;

    /** What the backward needs: mean and rstd ({@code [C]}), and r and d ({@code [C]}; null in evaluation). */
    public record Saved(Tensor mean, Tensor rstd, Tensor r, Tensor d) implements AutoCloseable {
        @Override
        public void close() {
            mean.close();
            rstd.close();
            if (r != null) {
                r.close();
                d.close();
            }
        }
    }

    RenormOutput(Tensor input, Tensor output, Saved saved, NcsLayout layout, boolean batchStatistics) {
        super(input, output, saved, batchStatistics);
        this.layout = layout;
    }

    /**
     * The gradient of the input for {@code dy}, r and d held constant: BatchNorm's with the weight
     * {@code w·r}; adds {@code Σ dy·(r·x̂ + d)} and {@code Σ dy} into {@code grads}' weight and bias
     * where not null. In evaluation, BatchNorm's.
     *
     * @param dy the output's gradient
     * @param affine the affine parameters the forward used
     * @param grads the affine parameters' gradients, accumulated where not null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, Affine affine, Affine grads) {
        Tensor x = checkedInput(dy);
        Checks.affineBackward(x, affine, grads, layout.c());
        Saved s = statistics();
        ChannelsOp.Renorm renorm = s.r() == null ? null : new ChannelsOp.Renorm(s.r(), s.d());
        return gradient(dx -> new ChannelsOp.Backward(layout, batchStatistics(), x, dy, s.mean(), s.rstd(),
                affine.weight(), renorm, dx, grads.weight(), grads.bias()));
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        Saved s = statistics();
        return s.r() == null ? orderedMap("mean", s.mean(), "rstd", s.rstd())
                : orderedMap("mean", s.mean(), "rstd", s.rstd(), "r", s.r(), "d", s.d());
    }
}
