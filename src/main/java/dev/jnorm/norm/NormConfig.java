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
    private static final NormConfig DEFAULTS = new NormConfig(null, null, false, null, null, null, null, null);

    private final Double eps;
    private final Double momentum;
    private final boolean cumulativeAverage;
    private final Boolean affine;
    private final Boolean trackRunningStats;
    private final Long groups;
    private final Integer normalizedDims;
    private final Long virtualBatchSize;

    private NormConfig(Double eps, Double momentum, boolean cumulativeAverage, Boolean affine, Boolean trackRunningStats,
                       Long groups, Integer normalizedDims, Long virtualBatchSize) {
        this.virtualBatchSize = virtualBatchSize;
        this.eps = eps;
        this.momentum = momentum;
        this.cumulativeAverage = cumulativeAverage;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.groups = groups;
        this.normalizedDims = normalizedDims;
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
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims,
                virtualBatchSize);
    }

    /**
     * With the weight of each new batch in the running statistics.
     *
     * @param momentum in [0, 1]
     * @return a copy with it, and no cumulative average
     */
    public NormConfig momentum(double momentum) {
        return new NormConfig(eps, momentum, false, affine, trackRunningStats, groups, normalizedDims, virtualBatchSize);
    }

    /**
     * With running statistics as the cumulative average of the batches' (PyTorch's {@code momentum=None}).
     *
     * @return a copy with it, and no momentum
     */
    public NormConfig cumulativeAverage() {
        return new NormConfig(eps, null, true, affine, trackRunningStats, groups, normalizedDims, virtualBatchSize);
    }

    /**
     * With or without the learned affine parameters.
     *
     * @param affine whether to learn them
     * @return a copy with it
     */
    public NormConfig affine(boolean affine) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims,
                virtualBatchSize);
    }

    /**
     * With or without running statistics for evaluation.
     *
     * @param track whether to track them
     * @return a copy with it
     */
    public NormConfig trackRunningStats(boolean track) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, track, groups, normalizedDims, virtualBatchSize);
    }

    /**
     * With this many groups of channels (GroupNorm).
     *
     * @param groups a divisor of the channels
     * @return a copy with it
     */
    public NormConfig groups(long groups) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims,
                virtualBatchSize);
    }

    /**
     * Normalizing this many trailing dims of the input (LayerNorm, RMSNorm); by default all but the first.
     *
     * @param dims from 1 to the input's rank
     * @return a copy with it
     */
    public NormConfig normalizedDims(int dims) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, dims, virtualBatchSize);
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
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims,
                size);
    }

    /**
     * The virtual batch size set.
     *
     * @return it, if set
     */
    public OptionalLong virtualBatchSize() {
        return virtualBatchSize == null ? OptionalLong.empty() : OptionalLong.of(virtualBatchSize);
    }
}
