package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.Set;

/**
 * A norm as the command line, the benchmark and the study know it: its name and what it needs, and
 * how to build it for an input. The built-in norms are the constants of {@link NormKind}; others
 * join the {@link NormRegistry} as services (see there).
 */
public interface NormSpec {

    /** The configuration settings a norm may have. */
    enum Setting {
        /** Added to the variance before the square root. */
        EPS,
        /** The running statistics' momentum, or cumulative average. */
        MOMENTUM,
        /** Running statistics, tracked or not, for evaluation. */
        RUNNING_STATISTICS,
        /** Learned affine parameters, or none. */
        AFFINE,
        /** The number of groups of channels; required. */
        GROUPS,
        /** How many trailing dims are normalized. */
        NORMALIZED_DIMS,
        /** The dim a weight's norm keeps. */
        DIM,
        /** The examples of each virtual batch (Ghost BatchNorm). */
        VIRTUAL_BATCH_SIZE,
        /** The bounds on r and d (Batch Renormalization). */
        RENORM_CLIPPING,
        /** Ranks that reduce their statistics together ({@link NormConfig#reducer}; SyncBatchNorm). */
        RANKS
    }

    /**
     * The name on the command line and in results: lower case, words joined by hyphens ({@code batch-instance}).
     *
     * @return the name
     */
    String commandName();

    /**
     * One line for help texts: what it normalizes over.
     *
     * @return the description
     */
    String description();

    /**
     * The settings this norm has.
     *
     * @return its settings
     */
    Set<Setting> settings();

    /**
     * Its learnable parameters with their affine parameters enabled, by name ({@code weight}, {@code rho}, ...).
     *
     * @return their names
     */
    Set<String> parameters();

    /**
     * The fixed tensors it is given rather than learns, by the names of their files
     * ({@code --weight} for {@code weight}, {@code --running-mean} for {@code running_mean}...): none
     * but for FrozenBatchNorm's.
     *
     * @return their names
     */
    default Set<String> fixedTensors() {
        return Set.of();
    }

    /**
     * The benchmark's shape suite it runs on ({@code group}, {@code batch}, {@code instance}, {@code rows}, {@code weight}).
     *
     * @return the suite's name
     */
    String suite();

    /**
     * True when it normalizes a CNN's feature maps {@code [N, C, H, W]} (the small-batch study trains with those).
     *
     * @return whether its input is a CNN's feature maps
     */
    boolean featureMaps();

    /**
     * True for a reparameterization of a weight (WeightNorm): its input is the weight, and it has no layer to build.
     *
     * @return whether it reparameterizes a weight
     */
    boolean reparameterizes();

    /**
     * True when every output needs statistics of the whole batch first (BatchNorm in training, say),
     * so that a pass that normalizes must read the input twice.
     *
     * @param training the mode
     * @return whether a pass must take the batch's statistics before writing any output
     */
    boolean batchStatisticsFirst(boolean training);

    /**
     * True when, in this mode, it takes no statistics of its input at all (BatchNorm in evaluation).
     *
     * @param training the mode
     * @return whether the mode is elementwise
     */
    boolean elementwise(boolean training);

    /**
     * The values one statistic is taken over, for an input of {@code shape} configured by {@code config}.
     *
     * @param shape the input's shape
     * @param config the norm's configuration
     * @return the number of values per statistic
     */
    long groupSize(Shape shape, NormConfig config);

    /**
     * The layer, for inputs shaped like {@code input}, configured by {@code config}.
     *
     * @throws UnsupportedOperationException for a reparameterization
     * @param backend where the layer computes
     * @param input the shape of its inputs
     * @param config its settings, unset ones at the layer's defaults
     * @param dtype its dtype
     * @return the layer, in training mode
     */
    NormLayer<?> build(Backend backend, Shape input, NormConfig config, DType dtype);
}
