package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.RowsLayout;
import dev.jnorm.backend.RunningStats;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The functional twins of the layers, for callers who hold their own parameters and running
 * statistics, following {@code torch.nn.functional}. Each returns the output with the statistics
 * its backward needs; call {@code backward} on the result for the gradients.
 *
 * <p>Arguments are checked before any work, so a rejected call changes nothing. Optional tensors
 * (weight, bias, running statistics) may be null. An empty input gives an empty output, NaN
 * statistics, and leaves running statistics unchanged. Running statistics, when given and
 * normalizing with the batch's statistics, are updated in place by
 * {@code running = (1 − momentum)·running + momentum·batch} (unbiased variance).
 */
public final class Norms {
    private Norms() {
    }

    /**
     * BatchNorm over {@code [N, C, *]}: {@code y = (x − mean_c)/sqrt(var_c + eps)·weight_c + bias_c}
     * with {@code mean_c}, {@code var_c} (biased) over N and the spatial dims when {@code training},
     * else the running statistics.
     */
    public static NormOutput batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                       boolean training, double momentum, double eps) {
        Checks.input(x, "input");
        perChannelCompanions(x, runningMean, runningVar, weight, bias);
        Checks.rank(x.shape(), 2, 5);
        if (training) {
            Checks.moreThanOneValuePerChannel(x.shape());
        }
        Checks.runningPair(runningMean, runningVar, training);
        perChannel(x, runningMean, runningVar, weight, bias);
        Checks.eps(eps);
        Checks.momentum(momentum);
        NcsLayout layout = NcsLayout.of(x.shape());
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = out.empty(Shape.of(layout.c()));
            Tensor rstd = out.empty(Shape.of(layout.c()));
            if (!isEmpty(x, mean, rstd)) {
                x.backend().run(new ChannelsOp.Forward(layout, eps, training, x, weight, bias, y, mean, rstd,
                        running(runningMean, runningVar), momentum));
            }
            out.keep();
            return NormOutput.ofChannels(x, y, mean, rstd, layout, training);
        }
    }

    /**
     * InstanceNorm over {@code [N, C, *spatial]}: each (n, c) normalized over its spatial values when
     * {@code useInputStats}, else with the per-channel running statistics. With running statistics
     * and input statistics, the running statistics take the per-(n, c) statistics averaged over n.
     */
    public static NormOutput instanceNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight,
                                          Tensor bias, boolean useInputStats, double momentum, double eps) {
        Checks.input(x, "input");
        perChannelCompanions(x, runningMean, runningVar, weight, bias);
        Checks.rank(x.shape(), 3, 5);
        if (useInputStats) {
            Checks.moreThanOneSpatialElement(x.shape());
        }
        Checks.runningPair(runningMean, runningVar, useInputStats);
        perChannel(x, runningMean, runningVar, weight, bias);
        Checks.eps(eps);
        Checks.momentum(momentum);
        NcsLayout layout = NcsLayout.of(x.shape());
        Backend backend = x.backend();
        try (Outputs out = new Outputs(backend, x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape statistics = useInputStats ? Shape.of(layout.n(), layout.c()) : Shape.of(layout.c());
            Tensor mean = out.empty(statistics);
            Tensor rstd = out.empty(statistics);
            boolean empty = isEmpty(x, mean, rstd);
            if (!useInputStats) {
                if (!empty) {
                    backend.run(new ChannelsOp.Forward(layout, eps, false, x, weight, bias, y, mean, rstd,
                            running(runningMean, runningVar), 0));
                }
                out.keep();
                return NormOutput.ofChannels(x, y, mean, rstd, layout, false);
            }
            RowsLayout rows = RowsLayout.instance(layout);
            if (!empty) {
                backend.run(new RowsOp.Forward(rows, eps, x, weight, bias, y, mean, rstd, running(runningMean, runningVar),
                        momentum));
            }
            out.keep();
            return NormOutput.ofRows(x, y, mean, rstd, rows, layout.c());
        }
    }

    /**
     * GroupNorm over {@code [N, C, *]}: the C channels split into {@code numGroups} groups of
     * consecutive channels, each (n, group) normalized over its channels and spatial values, then
     * a per-channel affine.
     */
    public static NormOutput groupNorm(Tensor x, long numGroups, Tensor weight, Tensor bias, double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", weight);
        Checks.companion(x, "bias", bias);
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
        groupNormParameter("weight", weight, shape);
        groupNormParameter("bias", bias, shape);
        Checks.eps(eps);
        NcsLayout layout = NcsLayout.of(shape);
        RowsLayout rows = RowsLayout.group(layout, numGroups);
        return rowsForward(x, rows, Shape.of(layout.n(), numGroups), weight, bias, eps, c);
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
     */
    public static NormOutput layerNorm(Tensor x, Shape normalizedShape, Tensor weight, Tensor bias, double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", weight);
        Checks.companion(x, "bias", bias);
        checkNormalizedShape(x.shape(), normalizedShape, weight, bias);
        Checks.eps(eps);
        Shape leading = x.shape().slice(0, x.shape().rank() - normalizedShape.rank());
        RowsLayout rows = RowsLayout.layer(leading.numel(), normalizedShape.numel());
        return rowsForward(x, rows, leading, weight, bias, eps, normalizedShape.numel());
    }

    /**
     * RMSNorm over the trailing dims {@code normalizedShape}: {@code y = x/sqrt(mean(x²) + eps)·weight}.
     *
     * @param eps null for the machine epsilon of the input's dtype
     */
    public static NormOutput rmsNorm(Tensor x, Shape normalizedShape, Tensor weight, Double eps) {
        Checks.input(x, "input");
        Checks.companion(x, "weight", weight);
        checkNormalizedShape(x.shape(), normalizedShape, weight, null);
        double e = eps != null ? eps : x.dtype().machineEpsilon();
        Checks.eps(e);
        Shape leading = x.shape().slice(0, x.shape().rank() - normalizedShape.rank());
        RowsLayout rows = RowsLayout.rms(leading.numel(), normalizedShape.numel());
        return rowsForward(x, rows, leading, weight, null, e, normalizedShape.numel());
    }

    /**
     * WeightNorm: {@code w = g·v/‖v‖}, the norm taken over every dim of {@code v} but {@code dim}, one
     * {@code g} per slice along {@code dim}; {@code dim} null (or −1, as in PyTorch) takes the norm
     * over the whole tensor with a single {@code g}.
     */
    public static WeightNormOutput weightNorm(Tensor v, Tensor g, Integer dim) {
        Checks.input(v, "v");
        Checks.input(g, "g");
        Checks.companion(v, "g", g);
        NcsLayout layout = weightNormLayout(v.shape(), dim);
        Checks.elements("g", g, layout.c());
        try (Outputs out = new Outputs(v.backend(), v.dtype())) {
            Tensor w = out.empty(v.shape());
            Tensor norm = out.empty(Shape.of(layout.c()));
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
     */
    public static BatchInstanceOutput batchInstanceNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor rho,
                                                        Tensor weight, Tensor bias, boolean training, double momentum,
                                                        double eps) {
        Checks.input(x, "input");
        Checks.input(rho, "rho");
        perChannelCompanions(x, runningMean, runningVar, weight, bias);
        Checks.companion(x, "rho", rho);
        Checks.rank(x.shape(), 3, 5);
        Checks.moreThanOneSpatialElement(x.shape());
        Checks.runningPair(runningMean, runningVar, training);
        perChannel(x, runningMean, runningVar, weight, bias);
        Checks.elements("rho", rho, x.shape().dim(1));
        Checks.eps(eps);
        Checks.momentum(momentum);
        NcsLayout layout = NcsLayout.of(x.shape());
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape perChannel = Shape.of(layout.c());
            Shape perInstance = Shape.of(layout.n(), layout.c());
            BatchInstanceStats saved = new BatchInstanceStats(out.empty(perChannel), out.empty(perChannel),
                    out.empty(perInstance), out.empty(perInstance));
            if (!isEmpty(x, saved.batchMean(), saved.batchRstd(), saved.instanceMean(), saved.instanceRstd())) {
                x.backend().run(new BatchInstanceOp.Forward(layout, eps, training, x, rho, weight, bias, y, saved,
                        running(runningMean, runningVar), momentum));
            }
            out.keep();
            return new BatchInstanceOutput(x, y, saved, layout, training);
        }
    }

    /**
     * Switchable over {@code [N, C, *]}: per (n, c),
     * {@code mean = Σ_k softmax(meanWeight)_k·mean_k}, {@code var = Σ_k softmax(varWeight)_k·var_k}
     * for k = instance, layer, batch (biased variances; the batch term from the running
     * statistics unless {@code training}), then {@code y = (x − mean)/sqrt(var + eps)·weight_c + bias_c}.
     */
    public static SwitchableOutput switchableNorm(Tensor x, Tensor runningMean, Tensor runningVar,
                                                  Tensor meanWeight, Tensor varWeight, Tensor weight, Tensor bias,
                                                  boolean training, double momentum, double eps) {
        Checks.input(x, "input");
        perChannelCompanions(x, runningMean, runningVar, weight, bias);
        Checks.rank(x.shape(), 2, 5);
        if (training) {
            Checks.moreThanOneValuePerChannel(x.shape());
        }
        Checks.runningPair(runningMean, runningVar, training);
        perChannel(x, runningMean, runningVar, weight, bias);
        checkMixingWeights(x, meanWeight, varWeight);
        Checks.eps(eps);
        Checks.momentum(momentum);
        NcsLayout layout = NcsLayout.of(x.shape());
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Shape perInstance = Shape.of(layout.n(), layout.c());
            Shape perExample = Shape.of(layout.n());
            Shape perChannel = Shape.of(layout.c());
            SwitchableStats saved = new SwitchableStats(out.empty(perInstance), out.empty(perInstance),
                    out.empty(perInstance), out.empty(perInstance), out.empty(perExample), out.empty(perExample),
                    out.empty(perChannel), out.empty(perChannel));
            if (!isEmpty(x, saved.mean(), saved.rstd(), saved.instanceMean(), saved.instanceVar(), saved.layerMean(),
                    saved.layerVar(), saved.batchMean(), saved.batchVar())) {
                x.backend().run(new SwitchableOp.Forward(layout, eps, training, x, meanWeight, varWeight, weight, bias, y, saved,
                        running(runningMean, runningVar), momentum));
            }
            out.keep();
            return new SwitchableOutput(x, y, saved, layout, training);
        }
    }

    static void checkMixingWeights(Tensor x, Tensor meanWeight, Tensor varWeight) {
        Checks.input(meanWeight, "mean_weight");
        Checks.input(varWeight, "var_weight");
        Checks.parameter(x, "mean_weight", meanWeight, 3);
        Checks.parameter(x, "var_weight", varWeight, 3);
    }

    // ---- shared steps ----

    private static NormOutput rowsForward(Tensor x, RowsLayout rows, Shape statsShape, Tensor weight, Tensor bias,
                                          double eps, long parameterElements) {
        try (Outputs out = new Outputs(x.backend(), x.dtype())) {
            Tensor y = out.empty(x.shape());
            Tensor mean = rows.centered() ? out.empty(statsShape) : null;
            Tensor rstd = out.empty(statsShape);
            boolean empty = rows.centered() ? isEmpty(x, mean, rstd) : isEmpty(x, rstd);
            if (!empty) {
                x.backend().run(new RowsOp.Forward(rows, eps, x, weight, bias, y, mean, rstd, null, 0));
            }
            out.keep();
            return NormOutput.ofRows(x, y, mean, rstd, rows, parameterElements);
        }
    }

    /** PyTorch's LayerNorm checks, in its order: the normalized shape, weight, bias, then the input. */
    private static void checkNormalizedShape(Shape input, Shape normalized, Tensor weight, Tensor bias) {
        if (normalized.rank() < 1) {
            throw Checks.fail("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                    + "element, but got normalized_shape = " + normalized);
        }
        normalizedShapeParameter("weight", weight, normalized);
        normalizedShapeParameter("bias", bias, normalized);
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

    /** The per-channel companions of the input: open, on its backend, of its dtype. */
    private static void normalizedShapeParameter(String name, Tensor t, Shape normalized) {
        if (t != null && !t.shape().equals(normalized)) {
            throw Checks.fail("Expected " + name + " to be of same shape as normalized_shape, but got " + name
                    + " of shape " + t.shape() + " and normalized_shape = " + normalized);
        }
    }

    private static void perChannelCompanions(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight,
                                             Tensor bias) {
        Checks.companion(x, "running_mean", runningMean);
        Checks.companion(x, "running_var", runningVar);
        Checks.companion(x, "weight", weight);
        Checks.companion(x, "bias", bias);
    }

    /** PyTorch's per-channel checks, in its order: running_mean, running_var, weight, bias. */
    private static void perChannel(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias) {
        long c = x.shape().dim(1);
        Checks.elements("running_mean", runningMean, c);
        Checks.elements("running_var", runningVar, c);
        Checks.elements("weight", weight, c);
        Checks.elements("bias", bias, c);
    }

    private static RunningStats running(Tensor runningMean, Tensor runningVar) {
        return runningMean == null ? null : new RunningStats(runningMean, runningVar);
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
