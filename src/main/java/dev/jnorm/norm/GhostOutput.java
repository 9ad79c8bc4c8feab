package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Ghost BatchNorm forward: its output, and the mean and rstd of each channel of each virtual batch
 * ({@code [batches, C]}; one row of the running statistics' in evaluation).
 */
public final class GhostOutput extends SavedForward<NormOutput.Statistics> {
    private final NcsLayout layout;
    private final long virtualBatchSize;

    GhostOutput(Tensor input, Tensor output, Tensor mean, Tensor rstd, NcsLayout layout, long virtualBatchSize,
                boolean batchStatistics) {
        super(input, output, new NormOutput.Statistics(mean, rstd), batchStatistics);
        this.layout = layout;
        this.virtualBatchSize = virtualBatchSize;
    }

    /**
     * The gradient of the input for {@code dy}, each virtual batch through BatchNorm's backward;
     * adds the weight's and bias' gradients into {@code grads}' where not null.
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
        return gradient(dx -> {
            List<NormOp> ops = new ArrayList<>();
            forEachBatch(layout, virtualBatchSize, (k, part, at, shape) -> ops.add(new ChannelsOp.Backward(part,
                    batchStatistics(), x.view(at, shape), dy.view(at, shape), s.mean().view(k * c, Shape.of(c)),
                    s.rstd().view(k * c, Shape.of(c)), affine.weight(), dx.view(at, shape), grads.weight(),
                    grads.bias())));
            return new ChunkedOp("ghost batch backward", x.shape(), ops);
        });
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        Map<String, Tensor> saved = new LinkedHashMap<>();
        saved.put("mean", statistics().mean());
        saved.put("rstd", statistics().rstd());
        return saved;
    }

    /** One virtual batch: its index, its [n, C, S] layout, where it starts, and its shape. */
    interface Batch {
        void accept(int k, NcsLayout part, long at, Shape shape);
    }

    /** The virtual batches of {@code size} consecutive examples of {@code layout}, in order. */
    static void forEachBatch(NcsLayout layout, long size, Batch each) {
        long perExample = layout.c() * layout.s();
        for (int k = 0; (long) k * size < layout.n(); k++) {
            long n = Math.min(size, layout.n() - (long) k * size);
            each.accept(k, new NcsLayout(n, layout.c(), layout.s()), k * size * perExample,
                    Shape.of(n, layout.c(), layout.s()));
        }
    }
}
