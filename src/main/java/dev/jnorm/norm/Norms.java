package dev.jnorm.norm;

import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The functional twins of the layers, for callers who hold their own parameters and running
 * statistics, following {@code torch.nn.functional}. Each returns the output with the statistics
 * its backward needs; call {@code backward} on the result for the gradients.
 *
 * <p>Arguments are checked before any work, in PyTorch's order and words, so a rejected call
 * changes nothing. Optional tensors (the affine weight or bias, the running statistics) may be
 * null. An empty input gives an empty output, NaN statistics, and leaves running statistics
 * unchanged. Running statistics, when given and normalizing with the batch's statistics, are
 * updated in place by {@code running = (1 − momentum)·running + momentum·batch} (unbiased variance).
 */
public final class Norms {
    private Norms() {
    }

    /**
     * BatchNorm over {@code [N, C, *]}: {@code y = (x − mean_c)/sqrt(var_c + eps)·weight_c + bias_c}
     * with {@code mean_c}, {@code var_c} (biased) over N and the spatial dims when {@code training},
     * else the running statistics.
     *
     * @param x the input
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param training normalize with the batch's statistics (and update the running ones), else the running ones
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput batchNorm(Tensor x, Affine affine, RunningStats running, boolean training,
                                       double momentum, double eps) {
        NcsLayout layout = checkPerChannel(x, affine, running, 2, training ? Checks::moreThanOneValuePerChannel : null,
                training, momentum, eps, null, null);
        return channels(x, layout, affine, running, training, momentum, eps);
    }

    /**
     * Ghost BatchNorm over {@code [N, C, *]} (Hoffer et al. 2017): in training, BatchNorm on each
     * virtual batch of {@code virtualBatchSize} consecutive examples (the last may be smaller), each
     * with its own statistics, the running statistics updated once per virtual batch, in order, by
     * {@code factors[k]}; in evaluation, BatchNorm's with the running statistics.
     *
     * @param x the input
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param training normalize each virtual batch with its statistics
     * @param virtualBatchSize the examples of each virtual batch
     * @param factors the update factor of each virtual batch (in training with running statistics)
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static GhostOutput ghostBatchNorm(Tensor x, Affine affine, RunningStats running, boolean training,
                                             long virtualBatchSize, double[] factors, double eps) {
        if (virtualBatchSize < 1) {
            throw Checks.fail("virtual_batch_size must be positive, got " + virtualBatchSize);
        }
        long size = training ? virtualBatchSize : Long.MAX_VALUE;
        NcsLayout layout = checkPerChannel(x, affine, running, 2, training ? shape -> {
            for (long n = shape.dim(0); n > 0; n -= virtualBatchSize) { // every virtual batch, as its own batch
                long[] dims = shape.dims();
                dims[0] = Math.min(n, virtualBatchSize);
                Checks.moreThanOneValuePerChannel(Shape.of(dims));
            }
        } : null, training, 0, eps, null, null);
        long c = layout.c();
        long batches = training ? (layout.n() + virtualBatchSize - 1) / virtualBatchSize : 1;
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = out.stats(Shape.of(batches, c));
            Tensor rstd = out.stats(Shape.of(batches, c));
            List<NormOp> ops = new ArrayList<>();
            GhostOutput.forEachBatch(layout, size, (k, part, at, shape) -> ops.add(new ChannelsOp.Forward(part, eps,
                    training, x.view(at, shape), affine.weight(), affine.bias(), y.view(at, shape),
                    mean.view(k * c, Shape.of(c)), rstd.view(k * c, Shape.of(c)), running,
                    training && running != null ? factors[k] : 0)));
            run(x, new ChunkedOp("ghost batch forward", x.shape(), ops), mean, rstd);
            out.keep();
            return new GhostOutput(x, y, mean, rstd, layout, size, training);
        }
    }

    /**
     * Mean-only BatchNorm over {@code [N, C, *]} (Salimans &amp; Kingma 2016, for WeightNorm's
     * layers): {@code y = x − μ_c + bias_c}, μ the batch's per-channel mean over N and the spatial
     * dims in training (updating {@code runningMean}, if given, by {@code momentum}), else
     * {@code runningMean}. No weight, no variance, no division.
     *
     * @param x the input
     * @param bias the per-channel bias (null: 0)
     * @param runningMean the running mean, updated in place, or null when not tracked
     * @param training normalize with the batch's mean
     * @param momentum the weight of this batch in the running mean
     * @return the output, with what its backward needs
     */
    public static MeanOnlyOutput meanOnlyBatchNorm(Tensor x, Tensor bias, Tensor runningMean, boolean training,
                                                   double momentum) {
        Checks.input(x, "input");
        Checks.companion(x, "running_mean", runningMean);
        Checks.companion(x, "bias", bias);
        Checks.rank(x.shape(), 2, 5);
        if (training) {
            Checks.moreThanOneValuePerChannel(x.shape());
        } else if (runningMean == null) {
            throw Checks.fail("running_mean must be defined in evaluation mode");
        }
        long c = x.shape().dim(1);
        Checks.elements("running_mean", runningMean, c);
        Checks.elements("bias", bias, c);
        Checks.momentum(momentum);
        NcsLayout layout = NcsLayout.of(x.shape());
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = out.stats(Shape.of(c));
            run(x, new MeanOnlyOp.Forward(layout, training, x, bias, y, mean, runningMean, momentum), mean);
            out.keep();
            return new MeanOnlyOutput(x, y, mean, layout, training);
        }
    }

    /**
     * SyncBatchNorm over {@code [N, C, *]} on one rank of {@code reducer}'s group (see
     * {@link SyncBatchNorm}): in training, BatchNorm with the statistics of the union of all ranks'
     * batches, merged by Chan's formula in rank order, and the running statistics (every rank's
     * alike) updated with them; every rank of the group must call it, a rank with N = 0 too. In
     * evaluation, BatchNorm's on this rank alone.
     *
     * @param x this rank's part of the batch
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param training normalize with the union's statistics
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variance before the square root
     * @param reducer this rank's end of the group
     * @return the output, with what its backward needs
     */
    public static SyncOutput syncBatchNorm(Tensor x, Affine affine, RunningStats running, boolean training,
                                           double momentum, double eps, StatsReducer reducer) {
        if (reducer == null) {
            throw Checks.fail("reducer must not be null");
        }
        NcsLayout layout = checkPerChannel(x, affine, running, 2, null, training || running == null, momentum, eps,
                null, null);
        if (!training) {
            NormOutput local = batchNorm(x, affine, running, running == null, momentum, eps);
            return new SyncOutput(x, local.output(), local.mean(), local.rstd(), layout, running == null, null,
                    layout.n() * layout.s());
        }
        long c = layout.c();
        try (Outputs out = new Outputs(x.backend(), x.dtype());
             Tensor local = x.backend().empty(Shape.of(1 + 2 * c), x.dtype().parameterType())) {
            if (x.numel() > 0) {
                x.backend().run(new SyncOp.LocalStatistics(layout, eps, x, local));
            } else {
                x.backend().fill(local, 0);
            }
            try (Tensor gathered = reducer.allGather(local)) {
                long total = layout.n() * layout.s();
                if (reducer.ranks() > 1) { // the ranks' counts, on the host
                    double[] g = gathered.toDoubleArray();
                    total = 0;
                    for (int k = 0; k < reducer.ranks(); k++) {
                        total += (long) g[k * (int) (1 + 2 * c)];
                    }
                }
                long[] dims = x.shape().dims();
                dims[0] = layout.s() == 0 ? 0 : total / layout.s();
                Checks.moreThanOneValuePerChannel(Shape.of(dims)); // the union's, on every rank alike
                Tensor y = out.empty(x.shape());
                Tensor mean = out.stats(Shape.of(c));
                Tensor rstd = out.stats(Shape.of(c));
                if (total == 0) { // no rank has values: as BatchNorm on an empty batch, running statistics unchanged
                    isEmpty(x, mean, rstd);
                    out.keep();
                    return new SyncOutput(x, y, mean, rstd, layout, true, reducer, 0);
                }
                x.backend().run(new SyncOp.Normalize(layout, eps, gathered, reducer.ranks(), total, x,
                        affine.weight(), affine.bias(), y, mean, rstd, running, momentum));
                out.keep();
                return new SyncOutput(x, y, mean, rstd, layout, true, reducer, total);
            }
        }
    }

    /**
     * Batch Renormalization over {@code [N, C, *]} (see {@link BatchRenorm}): in training, with the
     * batch's μ_B, σ_B and the running μ, σ = sqrt(running_var + eps),
     * {@code y = w·(r·(x − μ_B)/σ_B + d) + b} with {@code r = clip(σ_B/σ, 1/rmax, rmax)} and
     * {@code d = clip((μ_B − μ)/σ, −dmax, dmax)}, then the running statistics updated as BatchNorm's;
     * in evaluation, BatchNorm's.
     *
     * @param x the input
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, read before and updated in place by training; required
     * @param training normalize with the batch's statistics, corrected
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variances before the square root
     * @param rmax r's bound, at least 1
     * @param dmax d's bound, non-negative
     * @return the output, with what its backward needs
     */
    public static RenormOutput batchRenorm(Tensor x, Affine affine, RunningStats running, boolean training,
                                           double momentum, double eps, double rmax, double dmax) {
        NcsLayout layout = checkPerChannel(x, affine, running, 2, training ? Checks::moreThanOneValuePerChannel : null,
                training, momentum, eps, () -> {
                    if (running == null || running.mean() == null || running.var() == null) {
                        throw Checks.fail("Batch Renormalization needs running_mean and running_var");
                    }
                }, () -> Checks.renormClipping(rmax, dmax));
        if (!training) {
            NormOutput eval = channels(x, layout, affine, running, false, momentum, eps);
            return new RenormOutput(x, eval.output(), new RenormOutput.Saved(eval.mean(), eval.rstd(), null, null),
                    layout, false);
        }
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape c = Shape.of(layout.c());
            Tensor mean = out.stats(c);
            Tensor rstd = out.stats(c);
            Tensor r = out.stats(c);
            Tensor d = out.stats(c);
            run(x, new RenormOp.Forward(layout, eps, rmax, dmax, x, affine.weight(), affine.bias(), y, mean, rstd, r,
                    d, running, momentum), mean, rstd, r, d);
            out.keep();
            return new RenormOutput(x, y, new RenormOutput.Saved(mean, rstd, r, d), layout, true);
        }
    }

    /**
     * FrozenBatchNorm over {@code [N, C, *]} (torchvision's): BatchNorm's evaluation with fixed
     * statistics and affine, {@code y = (x − runningMean)/sqrt(runningVar + eps)·weight + bias}, in
     * every mode; its backward gives the input's gradient only.
     *
     * @param x the input
     * @param weight the per-channel weight (null: 1)
     * @param bias the per-channel bias (null: 0)
     * @param runningMean the per-channel mean, not updated
     * @param runningVar the per-channel variance, not updated
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput frozenBatchNorm(Tensor x, Tensor weight, Tensor bias, Tensor runningMean,
                                             Tensor runningVar, double eps) {
        Affine affine = new Affine(weight, bias);
        RunningStats running = new RunningStats(runningMean, runningVar);
        NcsLayout layout = checkPerChannel(x, affine, running, 2, null, false, 0, eps, null, null);
        return channels(x, layout, affine, running, false, 0, eps);
    }

    /**
     * InstanceNorm over {@code [N, C, *spatial]}: each (n, c) normalized over its spatial values when
     * {@code useInputStats}, else with the per-channel running statistics. With running statistics
     * and input statistics, the running statistics take the per-(n, c) statistics averaged over n.
     *
     * @param x the input
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param useInputStats normalize with each instance's statistics, else the running ones
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput instanceNorm(Tensor x, Affine affine, RunningStats running, boolean useInputStats,
                                          double momentum, double eps) {
        NcsLayout layout = checkPerChannel(x, affine, running, 3,
                useInputStats ? Checks::moreThanOneSpatialElement : null, useInputStats, momentum, eps, null, null);
        if (!useInputStats) {
            return channels(x, layout, affine, running, false, 0, eps);
        }
        RowsLayout rows = RowsLayout.instance(layout);
        return rows(x, rows, Shape.of(layout.n(), layout.c()), affine, eps, layout.c(), running, momentum);
    }

    /**
     * GroupNorm over {@code [N, C, *]}: the C channels split into {@code numGroups} groups of
     * consecutive channels, each (n, group) normalized over its channels and spatial values, then
     * a per-channel affine.
     *
     * @param x the input
     * @param numGroups the number of groups, dividing C
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput groupNorm(Tensor x, long numGroups, Affine affine, double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", affine.weight());
        Checks.companion(x, "bias", affine.bias());
        Shape shape = x.shape();
        if (shape.rank() < 2) {
            throw Checks.fail("Expected at least 2 dimensions for input tensor but received " + shape.rank());
        }
        if (numGroups <= 0) {
            throw Checks.fail("num_groups must be positive, got " + numGroups);
        }
        long c = shape.dim(1);
        if (c % numGroups != 0) {
            throw Checks.fail("Expected number of channels in input to be divisible by num_groups, but got input of shape "
                    + shape + " and num_groups=" + numGroups);
        }
        groupNormParameter("weight", affine.weight(), shape);
        groupNormParameter("bias", affine.bias(), shape);
        Checks.eps(eps);
        NcsLayout layout = NcsLayout.of(shape);
        RowsLayout rows = RowsLayout.group(layout, numGroups);
        return rows(x, rows, Shape.of(layout.n(), numGroups), affine, eps, c, null, 0);
    }

    private static void groupNormParameter(String name, Tensor t, Shape input) {
        if (t != null && (t.shape().rank() != 1 || t.numel() != input.dim(1))) {
            throw Checks.fail("Expected " + name + " to be a vector of size equal to the number of channels in input, "
                    + "but got " + name + " of shape " + t.shape() + " and input of shape " + input);
        }
    }

    /**
     * LayerNorm over the trailing dims {@code normalizedShape}: each leading index normalized over
     * them, then an elementwise affine of the normalized shape.
     *
     * @param x the input
     * @param normalizedShape the trailing dims of x normalized over
     * @param affine the elementwise weight and bias of the normalized shape (either may be null)
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput layerNorm(Tensor x, Shape normalizedShape, Affine affine, double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", affine.weight());
        Checks.companion(x, "bias", affine.bias());
        checkNormalizedShape(x.shape(), normalizedShape, affine);
        Checks.eps(eps);
        Shape leading = x.shape().slice(0, x.shape().rank() - normalizedShape.rank());
        RowsLayout rows = RowsLayout.layer(leading.numel(), normalizedShape.numel());
        return rows(x, rows, leading, affine, eps, normalizedShape.numel(), null, 0);
    }

    /**
     * RMSNorm over the trailing dims {@code normalizedShape}: {@code y = x/sqrt(mean(x²) + eps)·weight},
     * eps the machine epsilon of the input's dtype.
     *
     * @param x the input
     * @param normalizedShape the trailing dims of x normalized over
     * @param weight the elementwise weight of the normalized shape, or null
     * @return the output, with what its backward needs
     */
    public static NormOutput rmsNorm(Tensor x, Shape normalizedShape, Tensor weight) {
        Checks.input(x, "input");
        return rmsNorm(x, normalizedShape, weight, x.dtype().machineEpsilon());
    }

    /**
     * RMSNorm over the trailing dims {@code normalizedShape}: {@code y = x/sqrt(mean(x²) + eps)·weight}.
     *
     * @param x the input
     * @param normalizedShape the trailing dims of x normalized over
     * @param weight the elementwise weight of the normalized shape, or null
     * @param eps added to the mean square before the square root
     * @return the output, with what its backward needs
     */
    public static NormOutput rmsNorm(Tensor x, Shape normalizedShape, Tensor weight, double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", weight);
        checkNormalizedShape(x.shape(), normalizedShape, Affine.weightOnly(weight));
        Checks.eps(eps);
        Shape leading = x.shape().slice(0, x.shape().rank() - normalizedShape.rank());
        RowsLayout rows = RowsLayout.rms(leading.numel(), normalizedShape.numel());
        return rows(x, rows, leading, Affine.weightOnly(weight), eps, normalizedShape.numel(), null, 0);
    }

    /**
     * WeightNorm: {@code w = g·v/‖v‖}, the norm taken over every dim of {@code v} but {@code dim}, one
     * {@code g} per slice along {@code dim}; {@code dim} null (or −1, as in PyTorch) takes the norm
     * over the whole tensor with a single {@code g}.
     *
     * @param v the direction
     * @param g the magnitudes, one per slice along {@code dim}
     * @param dim the dim the norm keeps, or null (or −1) for the whole tensor
     * @return the weight {@code w}, with what its backward needs
     */
    public static WeightNormOutput weightNorm(Tensor v, Tensor g, Integer dim) {
        Checks.input(v, "v");
        Checks.input(g, "g");
        Checks.companion(v, "g", g);
        NcsLayout layout = weightNormLayout(v.shape(), dim);
        Checks.elements("g", g, layout.c());
        try (Outputs out = new Outputs(v.backend(), v.dtype())) {
            Tensor w = out.empty(v.shape());
            Tensor norm = out.stats(Shape.of(layout.c()));
            if (!isEmpty(v, norm)) {
                v.backend().run(new WeightNormOp.Forward(layout, v, g, w, norm));
            }
            out.keep();
            return new WeightNormOutput(v, w, norm, layout);
        }
    }

    /**
     * WeightNorm's view of {@code v} as {@code [outer, slices, inner]} around {@code dim}: dims
     * before it, along it, after it.
     */
    static NcsLayout weightNormLayout(Shape shape, Integer dim) {
        if (dim == null || dim == -1) {
            return new NcsLayout(1, 1, shape.numel());
        }
        int rank = shape.rank();
        shape.dim(dim); // range check, with PyTorch's message
        int d = dim < 0 ? dim + rank : dim;
        return new NcsLayout(shape.product(0, d), shape.dim(d), shape.product(d + 1, rank));
    }

    /**
     * Batch-Instance over {@code [N, C, *spatial]}:
     * {@code y = weight_c·(rho_c·x̂_BN + (1 − rho_c)·x̂_IN) + bias_c}, the BatchNorm term with the
     * batch's statistics when {@code training} (else the running ones), the InstanceNorm term always
     * with the input's.
     *
     * @param x the input
     * @param rho the per-channel mix, in [0, 1]
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param training the BatchNorm term with the batch's statistics (updating the running ones), else the running ones
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static BatchInstanceOutput batchInstanceNorm(Tensor x, Tensor rho, Affine affine, RunningStats running,
                                                        boolean training, double momentum, double eps) {
        NcsLayout layout = checkPerChannel(x, affine, running, 3, Checks::moreThanOneSpatialElement, training,
                momentum, eps, () -> {
                    Checks.input(rho, "rho");
                    Checks.companion(x, "rho", rho);
                }, () -> Checks.elements("rho", rho, x.shape().dim(1)));
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape perChannel = Shape.of(layout.c());
            Shape perInstance = Shape.of(layout.n(), layout.c());
            BatchInstanceStats saved = new BatchInstanceStats(out.stats(perChannel), out.stats(perChannel),
                    out.stats(perInstance), out.stats(perInstance));
            run(x, new BatchInstanceOp.Forward(layout, eps, training, x, rho, affine.weight(), affine.bias(), y, saved,
                    running, momentum), saved.batchMean(), saved.batchRstd(), saved.instanceMean(),
                    saved.instanceRstd());
            out.keep();
            return new BatchInstanceOutput(x, y, saved, layout, training);
        }
    }

    /**
     * Switchable over {@code [N, C, *]}: per (n, c),
     * {@code mean = Σ_k softmax(meanWeight)_k·mean_k}, {@code var = Σ_k softmax(varWeight)_k·var_k}
     * for k = instance, layer, batch (biased variances; the batch term from the running
     * statistics unless {@code training}), then {@code y = (x − mean)/sqrt(var + eps)·weight_c + bias_c}.
     *
     * @param x the input
     * @param mixing the mixing logits of the means and of the variances
     * @param affine the per-channel weight and bias (either may be null: 1 and 0)
     * @param running the running statistics, updated in place, or null when not tracked
     * @param training the batch term from the batch's statistics (updating the running ones), else the running ones
     * @param momentum the weight of this batch in the running statistics
     * @param eps added to the variance before the square root
     * @return the output, with what its backward needs
     */
    public static SwitchableOutput switchableNorm(Tensor x, MixingWeights mixing, Affine affine, RunningStats running,
                                                  boolean training, double momentum, double eps) {
        NcsLayout layout = checkPerChannel(x, affine, running, 2, training ? Checks::moreThanOneValuePerChannel : null,
                training, momentum, eps, null, () -> checkMixingWeights(x, mixing));
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape perInstance = Shape.of(layout.n(), layout.c());
            Shape perExample = Shape.of(layout.n());
            Shape perChannel = Shape.of(layout.c());
            SwitchableStats saved = new SwitchableStats(out.stats(perInstance), out.stats(perInstance),
                    out.stats(perInstance), out.stats(perInstance), out.stats(perExample), out.stats(perExample),
                    out.stats(perChannel), out.stats(perChannel));
            run(x, new SwitchableOp.Forward(layout, eps, training, x, mixing.meanWeight(), mixing.varWeight(),
                    affine.weight(), affine.bias(), y, saved, running, momentum), saved.mean(), saved.rstd(),
                    saved.instanceMean(), saved.instanceVar(), saved.layerMean(), saved.layerVar(), saved.batchMean(),
                    saved.batchVar());
            out.keep();
            return new SwitchableOutput(x, y, saved, layout, training);
        }
    }

    static void checkMixingWeights(Tensor x, MixingWeights mixing) {
        Checks.input(mixing.meanWeight(), "mean_weight");
        Checks.input(mixing.varWeight(), "var_weight");
        Checks.parameter(x, "mean_weight", mixing.meanWeight(), 3);
        Checks.parameter(x, "var_weight", mixing.varWeight(), 3);
    }

    // ---- shared steps ----

    /**
     * PyTorch's checks of a call of the BatchNorm-like norms, in its order: the input, the per-channel
     * companions (running statistics, weight, bias), {@code before}, the rank (from {@code minRank}
     * to 5), {@code size} (values per channel or spatial elements), the running pair, their lengths,
     * {@code after}, eps and momentum. Returns the input's [N, C, S] layout.
     */
    private static NcsLayout checkPerChannel(Tensor x, Affine affine, RunningStats running, int minRank,
                                             Consumer<Shape> size, boolean useInputStatistics, double momentum,
                                             double eps, Runnable before, Runnable after) {
        Checks.input(x, "input");
        Tensor runningMean = running == null ? null : running.mean();
        Tensor runningVar = running == null ? null : running.var();
        Checks.companion(x, "running_mean", runningMean);
        Checks.companion(x, "running_var", runningVar);
        Checks.companion(x, "weight", affine.weight());
        Checks.companion(x, "bias", affine.bias());
        if (before != null) {
            before.run();
        }
        Checks.rank(x.shape(), minRank, 5);
        if (size != null) {
            size.accept(x.shape());
        }
        Checks.runningPair(runningMean, runningVar, useInputStatistics);
        long c = x.shape().dim(1);
        Checks.elements("running_mean", runningMean, c);
        Checks.elements("running_var", runningVar, c);
        Checks.elements("weight", affine.weight(), c);
        Checks.elements("bias", affine.bias(), c);
        if (after != null) {
            after.run();
        }
        Checks.eps(eps);
        Checks.momentum(momentum);
        return NcsLayout.of(x.shape());
    }

    /** BatchNorm, or InstanceNorm with running statistics: the channels family. */
    private static NormOutput channels(Tensor x, NcsLayout layout, Affine affine, RunningStats running,
                                       boolean batchStatistics, double momentum, double eps) {
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = out.stats(Shape.of(layout.c()));
            Tensor rstd = out.stats(Shape.of(layout.c()));
            run(x, new ChannelsOp.Forward(layout, eps, batchStatistics, x, affine.weight(), affine.bias(), y, mean,
                    rstd, running, momentum), mean, rstd);
            out.keep();
            return NormOutput.ofChannels(x, y, mean, rstd, layout, batchStatistics);
        }
    }

    /** The rows family: LayerNorm, RMSNorm, GroupNorm, InstanceNorm with input statistics. */
    private static NormOutput rows(Tensor x, RowsLayout rows, Shape statsShape, Affine affine, double eps,
                                   long parameterElements, RunningStats running, double momentum) {
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = rows.centered() ? out.stats(statsShape) : null;
            Tensor rstd = out.stats(statsShape);
            NormOp op = new RowsOp.Forward(rows, eps, x, affine.weight(), affine.bias(), y, mean, rstd, running,
                    momentum);
            if (rows.centered()) {
                run(x, op, mean, rstd);
            } else {
                run(x, op, rstd);
            }
            out.keep();
            return NormOutput.ofRows(x, y, mean, rstd, rows, parameterElements);
        }
    }

    /** PyTorch's LayerNorm checks, in its order: the normalized shape, weight, bias, then the input. */
    private static void checkNormalizedShape(Shape input, Shape normalized, Affine affine) {
        if (normalized.rank() < 1) {
            throw Checks.fail("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                    + "element, but got normalized_shape = " + normalized);
        }
        normalizedShapeParameter("weight", affine.weight(), normalized);
        normalizedShapeParameter("bias", affine.bias(), normalized);
        int k = normalized.rank();
        int offset = input.rank() - k;
        boolean matches = offset >= 0 && input.slice(offset, input.rank()).equals(normalized);
        if (!matches) {
            StringBuilder expected = new StringBuilder("[*");
            for (long d : normalized.dims()) {
                expected.append(", ").append(d);
            }
            throw Checks.fail("Given normalized_shape=" + normalized + ", expected input with shape " + expected
                    + "], but got input of size" + input);
        }
    }

    private static void normalizedShapeParameter(String name, Tensor t, Shape normalized) {
        if (t != null && !t.shape().equals(normalized)) {
            throw Checks.fail("Expected " + name + " to be of same shape as normalized_shape, but got " + name
                    + " of shape " + t.shape() + " and normalized_shape = " + normalized);
        }
    }

    /**
     * Runs {@code op} on the input's backend; for an empty input runs nothing and fills the
     * statistics with NaN (the mean of nothing).
     */
    private static void run(Tensor x, NormOp op, Tensor... statistics) {
        if (!isEmpty(x, statistics)) {
            x.backend().run(op);
        }
    }

    /** For an empty input: fills the statistics with NaN (the mean of nothing) and returns true. */
    private static boolean isEmpty(Tensor x, Tensor... statistics) {
        if (x.numel() > 0) {
            return false;
        }
        for (Tensor t : statistics) {
            t.backend().fill(t, Double.NaN);
        }
        return true;
    }
}
