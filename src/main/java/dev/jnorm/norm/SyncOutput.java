package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/**
 * A SyncBatchNorm forward on one rank: its output, and the statistics that normalized it (the
 * union of all ranks' batches in training, the same on every rank; the running or local ones in
 * evaluation), with the group to reduce over again in the backward.
 */
public final class SyncOutput extends SavedForward<NormOutput.Statistics> {
    private final NcsLayout layout;
    private final StatsReducer reducer;
    private final long total;

    SyncOutput(Tensor input, Tensor output, Tensor mean, Tensor rstd, NcsLayout layout, boolean batchStatistics,
               StatsReducer reducer, long total) {
        super(input, output, new NormOutput.Statistics(mean, rstd), batchStatistics);
        this.layout = layout;
        this.reducer = reducer;
        this.total = total;
    }

    /**
     * The values per channel of all ranks' batches together (this rank's alone when not synchronized).
     *
     * @return the union's count N·S
     */
    public long totalCount() {
        return total;
    }

    /**
     * The gradient of the input for {@code dy}. Synchronized (a training forward), every rank of the
     * group must call it: the ranks' Σ dy and Σ dy·(x − mean) are gathered and added in rank order,
     * and {@code dx} is BatchNorm's over the union. The weight's and bias' gradients added into
     * {@code grads} are this rank's own ({@code Σ dy·x̂}, {@code Σ dy} over its values), as for every
     * parameter under data parallelism: their sum over the ranks is BatchNorm's on the whole batch.
     *
     * @param dy the output's gradient
     * @param affine the affine parameters the forward used
     * @param grads the affine parameters' gradients, accumulated where not null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, Affine affine, Affine grads) {
        Tensor x = checkedInput(dy);
        long c = layout.c();
        Checks.affineBackward(x, affine, grads, c);
        NormOutput.Statistics s = statistics();
        if (reducer == null) {
            return gradient(dx -> new ChannelsOp.Backward(layout, batchStatistics(), x, dy, s.mean(), s.rstd(),
                    affine.weight(), dx, grads.weight(), grads.bias()));
        }
        try (Tensor local = x.backend().empty(Shape.of(2 * c), x.dtype().parameterType())) {
            if (x.numel() > 0) {
                x.backend().run(new SyncOp.LocalSums(layout, x, dy, s.mean(), local));
            } else {
                x.backend().fill(local, 0);
            }
            try (Tensor gathered = reducer.allGather(local)) {
                return gradient(dx -> new SyncOp.Backward(layout, gathered, reducer.ranks(), total, local, x, dy,
                        s.mean(), s.rstd(), affine.weight(), dx, grads.weight(), grads.bias()));
            }
        }
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        return orderedMap("mean", statistics().mean(), "rstd", statistics().rstd());
    }
}
