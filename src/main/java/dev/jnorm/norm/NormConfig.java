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
    private static final NormConfig DEFAULTS = new NormConfig(null, null, false, null, null, null, null);

    private final Double eps;
    private final Double momentum;
    private final boolean cumulativeAverage;
    private final Boolean affine;
    private final Boolean trackRunningStats;
    private final Long groups;
    private final Integer normalizedDims;

    private NormConfig(Double eps, Double momentum, boolean cumulativeAverage, Boolean affine, Boolean trackRunningStats,
                       Long groups, Integer normalizedDims) {
        this.eps = eps;
        this.momentum = momentum;
        this.cumulativeAverage = cumulativeAverage;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.groups = groups;
        this.normalizedDims = normalizedDims;
    }

    /** Every setting left to the layer's default. */
    public static NormConfig defaults() {
        return DEFAULTS;
    }

    /** With eps, added to the variance (or mean square) before the square root. */
    public NormConfig eps(double eps) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims);
    }

    /** With the weight of each new batch in the running statistics. */
    public NormConfig momentum(double momentum) {
        return new NormConfig(eps, momentum, false, affine, trackRunningStats, groups, normalizedDims);
    }

    /** With running statistics as the cumulative average of the batches' (PyTorch's {@code momentum=None}). */
    public NormConfig cumulativeAverage() {
        return new NormConfig(eps, null, true, affine, trackRunningStats, groups, normalizedDims);
    }

    /** With or without the learned affine parameters. */
    public NormConfig affine(boolean affine) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims);
    }

    /** With or without running statistics for evaluation. */
    public NormConfig trackRunningStats(boolean track) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, track, groups, normalizedDims);
    }

    /** With this many groups of channels (GroupNorm). */
    public NormConfig groups(long groups) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, normalizedDims);
    }

    /** Normalizing this many trailing dims of the input (LayerNorm, RMSNorm); by default all but the first. */
    public NormConfig normalizedDims(int dims) {
        return new NormConfig(eps, momentum, cumulativeAverage, affine, trackRunningStats, groups, dims);
    }

    public OptionalDouble eps() {
        return eps == null ? OptionalDouble.empty() : OptionalDouble.of(eps);
    }

    public OptionalDouble momentum() {
        return momentum == null ? OptionalDouble.empty() : OptionalDouble.of(momentum);
    }

    public boolean isCumulativeAverage() {
        return cumulativeAverage;
    }

    public Optional<Boolean> affine() {
        return Optional.ofNullable(affine);
    }

    public Optional<Boolean> trackRunningStats() {
        return Optional.ofNullable(trackRunningStats);
    }

    public OptionalLong groups() {
        return groups == null ? OptionalLong.empty() : OptionalLong.of(groups);
    }

    public OptionalInt normalizedDims() {
        return normalizedDims == null ? OptionalInt.empty() : OptionalInt.of(normalizedDims);
    }
}
