package dev.jnorm.norm;

import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * How to configure a norm built by name ({@link NormSpec#build}): each setting is optional, and a
 * setting left unset takes the layer's own default (PyTorch's). A setting a norm does not have
 * ({@link NormSpec#settings()}) is ignored by it; the command line refuses it instead.
 */
public final class NormConfig {
    private static final NormConfig DEFAULTS = new NormConfig();

    private Double eps;
    private Double momentum;
    private boolean cumulativeAverage;
    private Boolean affine;
    private Boolean trackRunningStats;
    private Long groups;
    private Integer normalizedDims;
    private Long virtualBatchSize;
    private Double rmax;
    private Double dmax;
    private StatsReducer reducer;

    private NormConfig() {
    }

    /** A copy to change: configurations are immutable, each setter returns a changed copy. */
    private NormConfig copy() {
        NormConfig c = new NormConfig();
        c.eps = eps;
        c.momentum = momentum;
        c.cumulativeAverage = cumulativeAverage;
        c.affine = affine;
        c.trackRunningStats = trackRunningStats;
        c.groups = groups;
        c.normalizedDims = normalizedDims;
        c.virtualBatchSize = virtualBatchSize;
        c.rmax = rmax;
        c.dmax = dmax;
        c.reducer = reducer;
        return c;
    }

    /**
     * Every setting left to the layer's default.
     *
     * @return the empty configuration
     */
    public static NormConfig defaults() {
        return DEFAULTS;
    }

    /**
     * With eps, added to the variance (or mean square) before the square root.
     *
     * @param eps a non-negative value
     * @return a copy with it
     */
    public NormConfig eps(double eps) {
        NormConfig c = copy();
        c.eps = eps;
        return c;
    }

    /**
     * With the weight of each new batch in the running statistics.
     *
     * @param momentum in [0, 1]
     * @return a copy with it, and no cumulative average
     */
    public NormConfig momentum(double momentum) {
        NormConfig c = copy();
        c.momentum = momentum;
        c.cumulativeAverage = false;
        return c;
    }

    /**
     * With running statistics as the cumulative average of the batches' (PyTorch's {@code momentum=None}).
     *
     * @return a copy with it, and no momentum
     */
    public NormConfig cumulativeAverage() {
        NormConfig c = copy();
        c.momentum = null;
        c.cumulativeAverage = true;
        return c;
    }

    /**
     * With or without the learned affine parameters.
     *
     * @param affine whether to learn them
     * @return a copy with it
     */
    public NormConfig affine(boolean affine) {
        NormConfig c = copy();
        c.affine = affine;
        return c;
    }

    /**
     * With or without running statistics for evaluation.
     *
     * @param track whether to track them
     * @return a copy with it
     */
    public NormConfig trackRunningStats(boolean track) {
        NormConfig c = copy();
        c.trackRunningStats = track;
        return c;
    }

    /**
     * With this many groups of channels (GroupNorm).
     *
     * @param groups a divisor of the channels
     * @return a copy with it
     */
    public NormConfig groups(long groups) {
        NormConfig c = copy();
        c.groups = groups;
        return c;
    }

    /**
     * Normalizing this many trailing dims of the input (LayerNorm, RMSNorm); by default all but the first.
     *
     * @param dims from 1 to the input's rank
     * @return a copy with it
     */
    public NormConfig normalizedDims(int dims) {
        NormConfig c = copy();
        c.normalizedDims = dims;
        return c;
    }

    /**
     * The eps set.
     *
     * @return eps, if set
     */
    public OptionalDouble eps() {
        return eps == null ? OptionalDouble.empty() : OptionalDouble.of(eps);
    }

    /**
     * The momentum set.
     *
     * @return the momentum, if set
     */
    public OptionalDouble momentum() {
        return momentum == null ? OptionalDouble.empty() : OptionalDouble.of(momentum);
    }

    /**
     * Whether a cumulative average was asked for.
     *
     * @return true for a cumulative average
     */
    public boolean isCumulativeAverage() {
        return cumulativeAverage;
    }

    /**
     * Whether affine parameters were asked for, or not.
     *
     * @return the choice, if made
     */
    public Optional<Boolean> affine() {
        return Optional.ofNullable(affine);
    }

    /**
     * Whether running statistics were asked for, or not.
     *
     * @return the choice, if made
     */
    public Optional<Boolean> trackRunningStats() {
        return Optional.ofNullable(trackRunningStats);
    }

    /**
     * The groups set.
     *
     * @return the number of groups, if set
     */
    public OptionalLong groups() {
        return groups == null ? OptionalLong.empty() : OptionalLong.of(groups);
    }

    /**
     * The normalized dims set.
     *
     * @return the number of trailing dims, if set
     */
    public OptionalInt normalizedDims() {
        return normalizedDims == null ? OptionalInt.empty() : OptionalInt.of(normalizedDims);
    }

    /**
     * With the examples of each virtual batch (Ghost BatchNorm).
     *
     * @param size a positive count
     * @return the configuration with it
     */
    public NormConfig virtualBatchSize(long size) {
        NormConfig c = copy();
        c.virtualBatchSize = size;
        return c;
    }

    /**
     * The virtual batch size set.
     *
     * @return it, if set
     */
    public OptionalLong virtualBatchSize() {
        return virtualBatchSize == null ? OptionalLong.empty() : OptionalLong.of(virtualBatchSize);
    }

    /**
     * With Batch Renormalization's bound on r, clipped to [1/rmax, rmax].
     *
     * @param rmax at least 1
     * @return a copy with it
     */
    public NormConfig rmax(double rmax) {
        NormConfig c = copy();
        c.rmax = rmax;
        return c;
    }

    /**
     * With Batch Renormalization's bound on d, clipped to [−dmax, dmax].
     *
     * @param dmax non-negative
     * @return a copy with it
     */
    public NormConfig dmax(double dmax) {
        NormConfig c = copy();
        c.dmax = dmax;
        return c;
    }

    /**
     * r's bound set.
     *
     * @return rmax, if set
     */
    public OptionalDouble rmax() {
        return rmax == null ? OptionalDouble.empty() : OptionalDouble.of(rmax);
    }

    /**
     * d's bound set.
     *
     * @return dmax, if set
     */
    public OptionalDouble dmax() {
        return dmax == null ? OptionalDouble.empty() : OptionalDouble.of(dmax);
    }

    /**
     * On this rank of a group ({@link SyncBatchNorm}): the layer reduces its statistics through it.
     *
     * @param reducer this rank's end of the group; the layer does not close it
     * @return a copy with it
     */
    public NormConfig reducer(StatsReducer reducer) {
        NormConfig c = copy();
        c.reducer = reducer;
        return c;
    }

    /**
     * The group's end set.
     *
     * @return it, if set
     */
    public Optional<StatsReducer> reducer() {
        return Optional.ofNullable(reducer);
    }
}
