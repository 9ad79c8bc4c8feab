package dev.jnorm.norm;

import static dev.jnorm.norm.NormSpec.Setting.AFFINE;
import static dev.jnorm.norm.NormSpec.Setting.DIM;
import static dev.jnorm.norm.NormSpec.Setting.EPS;
import static dev.jnorm.norm.NormSpec.Setting.GROUPS;
import static dev.jnorm.norm.NormSpec.Setting.MOMENTUM;
import static dev.jnorm.norm.NormSpec.Setting.NORMALIZED_DIMS;
import static dev.jnorm.norm.NormSpec.Setting.RANKS;
import static dev.jnorm.norm.NormSpec.Setting.RENORM_CLIPPING;
import static dev.jnorm.norm.NormSpec.Setting.RUNNING_STATISTICS;
import static dev.jnorm.norm.NormSpec.Setting.VIRTUAL_BATCH_SIZE;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.ToLongBiFunction;

/**
 * The norms jnorm has, each once: its command-line name and what the command line, the benchmark
 * and the study need to know of it and to build it. Adding a norm is its own classes, kernels and
 * tests, and one constant here.
 */
public enum NormKind implements NormSpec {
    /** BatchNorm. */
    BATCH("batch", "BatchNorm: per channel, over the batch and the spatial dims", running(), Set.of("weight", "bias"),
            "batch", true, Statistics.BATCH_IN_TRAINING, (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> running(BatchNorm.builder(channels(in)), c).dtype(t).build(b)),
    /** FrozenBatchNorm. */
    FROZEN_BATCH("frozen-batch", "FrozenBatchNorm: BatchNorm's evaluation with a fixed weight, bias and running "
            + "statistics, in every mode", EnumSet.of(EPS), Set.of(), "batch", true, Statistics.FIXED,
            (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> FrozenBatchNorm.builder(channels(in)).eps(c.eps().orElse(1e-5)).dtype(t).build(b)) {
        @Override
        public Set<String> fixedTensors() {
            return Set.of("weight", "bias", "running_mean", "running_var");
        }
    },
    /** Ghost BatchNorm. */
    GHOST_BATCH("ghost-batch", "Ghost BatchNorm: BatchNorm on each virtual batch of --virtual-batch-size examples "
            + "(default 32)", ghost(), Set.of("weight", "bias"), "ghost", true, Statistics.BATCH_IN_TRAINING,
            (s, c) -> Math.min(s.dim(0), c.virtualBatchSize().orElse(32)) * spatial(s),
            (b, in, c, t) -> running(GhostBatchNorm.builder(channels(in), c.virtualBatchSize().orElse(32)), c)
                    .dtype(t).build(b)),
    /** SyncBatchNorm. */
    SYNC_BATCH("sync-batch", "SyncBatchNorm: BatchNorm with the statistics of all --ranks ranks' batches together",
            EnumSet.of(EPS, MOMENTUM, RUNNING_STATISTICS, AFFINE, RANKS), Set.of("weight", "bias"), "batch", true,
            Statistics.BATCH_IN_TRAINING, (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> running(SyncBatchNorm.builder(channels(in),
                    c.reducer().orElseGet(() -> InProcessReducer.group(1).get(0))), c).dtype(t).build(b)),
    /** Batch Renormalization. */
    BATCH_RENORM("batch-renorm", "Batch Renormalization: BatchNorm corrected towards the running statistics by r and "
            + "d, clipped by --rmax (default 3) and --dmax (default 5)",
            EnumSet.of(EPS, MOMENTUM, RUNNING_STATISTICS, AFFINE, RENORM_CLIPPING), Set.of("weight", "bias"), "batch",
            true, Statistics.BATCH_IN_TRAINING, (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> running(BatchRenorm.builder(channels(in), c.rmax().orElse(BatchRenorm.DEFAULT_RMAX),
                    c.dmax().orElse(BatchRenorm.DEFAULT_DMAX)), c).dtype(t).build(b)),
    /** Mean-only BatchNorm. */
    MEAN_ONLY_BATCH("mean-only-batch", "Mean-only BatchNorm: x less the batch's per-channel mean, plus a bias; no "
            + "weight, no division (WeightNorm's companion)", EnumSet.of(MOMENTUM, RUNNING_STATISTICS, AFFINE),
            Set.of("bias"), "batch", true, Statistics.BATCH_IN_TRAINING, (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> {
                MeanOnlyBatchNorm.Builder m = MeanOnlyBatchNorm.builder(channels(in)).dtype(t);
                if (c.isCumulativeAverage()) {
                    m.cumulativeAverage();
                } else {
                    c.momentum().ifPresent(m::momentum);
                }
                c.affine().ifPresent(m::affine);
                c.trackRunningStats().ifPresent(m::trackRunningStats);
                return m.build(b);
            }),
    /** LayerNorm. */
    LAYER("layer", "LayerNorm: per leading index, over the trailing dims (--normalized-dims)",
            EnumSet.of(EPS, AFFINE, NORMALIZED_DIMS), Set.of("weight", "bias"), "rows", true, Statistics.INPUT,
            (s, c) -> s.product(s.rank() - normalizedDims(s, c), s.rank()),
            (b, in, c, t) -> LayerNorm.builder(normalizedShape(in, c)).eps(c.eps().orElse(1e-5))
                    .elementwiseAffine(c.affine().orElse(true)).dtype(t).build(b)),
    /** InstanceNorm. */
    INSTANCE("instance", "InstanceNorm: per (example, channel), over the spatial dims", running(), Set.of("weight", "bias"),
            "instance", true, Statistics.INPUT, (s, c) -> spatial(s),
            (b, in, c, t) -> running(InstanceNorm.builder(channels(in)), c).dtype(t).build(b)),
    /** GroupNorm. */
    GROUP("group", "GroupNorm: per (example, group of channels), over the group's channels and spatial dims (--groups)",
            EnumSet.of(EPS, AFFINE, GROUPS), Set.of("weight", "bias"), "group", true, Statistics.INPUT,
            (s, c) -> s.dim(1) / groups(c) * spatial(s),
            // a rank-1 input gets GroupNorm's own rank message from forward, not a channel-count one
            (b, in, c, t) -> GroupNorm.builder(groups(c), in.rank() >= 2 ? in.dim(1) : groups(c))
                    .eps(c.eps().orElse(1e-5)).affine(c.affine().orElse(true)).dtype(t).build(b)),
    /** RMSNorm. */
    RMS("rms", "RMSNorm: per leading index, the root mean square over the trailing dims (--normalized-dims)",
            EnumSet.of(EPS, AFFINE, NORMALIZED_DIMS), Set.of("weight"), "rows", false, Statistics.INPUT,
            (s, c) -> s.product(s.rank() - normalizedDims(s, c), s.rank()), (b, in, c, t) -> {
                RMSNorm.Builder rms = RMSNorm.builder(normalizedShape(in, c)).elementwiseAffine(c.affine().orElse(true));
                c.eps().ifPresent(rms::eps);
                return rms.dtype(t).build(b);
            }),
    /** WeightNorm. */
    WEIGHT("weight", "WeightNorm: a weight reparameterized as g·v/‖v‖, the norm over every dim but --dim",
            EnumSet.of(DIM), Set.of("g"), "weight", false, Statistics.NONE, (s, c) -> s.numel() / s.dim(0), null),
    /** Batch-Instance Norm. */
    BATCH_INSTANCE("batch-instance", "Batch-Instance Norm: a learned per-channel mix of BatchNorm and InstanceNorm",
            running(), Set.of("rho", "weight", "bias"), "instance", true, Statistics.BATCH_ALWAYS,
            (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> running(BatchInstanceNorm.builder(channels(in)), c).dtype(t).build(b)),
    /** Switchable Norm. */
    SWITCHABLE("switchable", "Switchable Norm: learned mixes of InstanceNorm's, LayerNorm's and BatchNorm's statistics",
            running(), Set.of("mean_weight", "var_weight", "weight", "bias"), "instance", true, Statistics.BATCH_ALWAYS,
            (s, c) -> s.dim(0) * spatial(s),
            (b, in, c, t) -> running(SwitchableNorm.builder(channels(in)), c).dtype(t).build(b));

    /** The settings of the norms configured like BatchNorm. */
    private static Set<Setting> running() {
        return EnumSet.of(EPS, MOMENTUM, RUNNING_STATISTICS, AFFINE);
    }

    /** BatchNorm's settings and the virtual batch size. */
    private static Set<Setting> ghost() {
        return EnumSet.of(EPS, MOMENTUM, RUNNING_STATISTICS, AFFINE, VIRTUAL_BATCH_SIZE);
    }

    /** Which statistics a norm takes of its input. */
    private enum Statistics {
        /** Of the whole batch in training (BatchNorm); none in evaluation (the running ones). */
        BATCH_IN_TRAINING,
        /** Of the whole batch, at least in part, in both modes (the composites). */
        BATCH_ALWAYS,
        /** Of each group of the input alone. */
        INPUT,
        /** None: fixed ones, given (FrozenBatchNorm). */
        FIXED,
        /** None: a reparameterization. */
        NONE
    }

    /** Builds the layer for an input shape and a configuration. */
    private interface Maker {
        NormLayer<?> make(Backend backend, Shape input, NormConfig config, DType dtype);
    }

    private final String commandName;
    private final String description;
    private final Set<Setting> settings;
    private final Set<String> parameters;
    private final String suite;
    private final boolean featureMaps;
    private final Statistics statistics;
    private final ToLongBiFunction<Shape, NormConfig> groupSize;
    private final Maker maker;

    NormKind(String commandName, String description, Set<Setting> settings, Set<String> parameters, String suite,
             boolean featureMaps, Statistics statistics, ToLongBiFunction<Shape, NormConfig> groupSize, Maker maker) {
        this.commandName = commandName;
        this.description = description;
        this.settings = Set.copyOf(settings);
        this.parameters = parameters;
        this.suite = suite;
        this.featureMaps = featureMaps;
        this.statistics = statistics;
        this.groupSize = groupSize;
        this.maker = maker;
    }

    @Override
    public String commandName() {
        return commandName;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public Set<Setting> settings() {
        return settings;
    }

    @Override
    public Set<String> parameters() {
        return parameters;
    }

    @Override
    public String suite() {
        return suite;
    }

    @Override
    public boolean featureMaps() {
        return featureMaps;
    }

    @Override
    public boolean reparameterizes() {
        return statistics == Statistics.NONE;
    }

    @Override
    public boolean batchStatisticsFirst(boolean training) {
        return statistics == Statistics.BATCH_ALWAYS || statistics == Statistics.BATCH_IN_TRAINING && training;
    }

    @Override
    public boolean elementwise(boolean training) {
        return statistics == Statistics.FIXED || statistics == Statistics.BATCH_IN_TRAINING && !training;
    }

    @Override
    public long groupSize(Shape shape, NormConfig config) {
        return groupSize.applyAsLong(shape, config);
    }

    @Override
    public NormLayer<?> build(Backend backend, Shape input, NormConfig config, DType dtype) {
        if (maker == null) {
            throw new UnsupportedOperationException(commandName + " reparameterizes a weight: build it with its "
                    + "builder from the weight");
        }
        return maker.make(backend, input, config, dtype);
    }

    private static long spatial(Shape s) {
        return s.product(2, s.rank());
    }

    private static long channels(Shape input) {
        return input.rank() >= 2 ? input.dim(1) : 1;
    }

    private static long groups(NormConfig c) {
        return c.groups().orElseThrow(() -> new IllegalArgumentException("GroupNorm needs the number of groups"));
    }

    private static int normalizedDims(Shape input, NormConfig c) {
        return c.normalizedDims().orElse(Math.max(input.rank() - 1, 0));
    }

    private static long[] normalizedShape(Shape input, NormConfig c) {
        int k = normalizedDims(input, c);
        return input.slice(input.rank() - k, input.rank()).dims();
    }

    /** A BatchNorm-like layer's builder with the configuration's eps, momentum, affine and running statistics. */
    private static <L extends RunningStatsNorm<L>> RunningStatsNorm.Builder<L> running(RunningStatsNorm.Builder<L> b,
                                                                                    NormConfig c) {
        b.eps(c.eps().orElse(1e-5));
        if (c.isCumulativeAverage()) {
            b.cumulativeAverage();
        } else {
            c.momentum().ifPresent(b::momentum);
        }
        c.affine().ifPresent(b::affine);
        c.trackRunningStats().ifPresent(b::trackRunningStats);
        return b;
    }
}
