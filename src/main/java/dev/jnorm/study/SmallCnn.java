package dev.jnorm.study;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.nn.Conv2d;
import dev.jnorm.nn.WeightNormConv2d;
import dev.jnorm.nn.GlobalAvgPool;
import dev.jnorm.nn.Init;
import dev.jnorm.nn.Linear;
import dev.jnorm.nn.MaxPool2d;
import dev.jnorm.nn.Relu;
import dev.jnorm.nn.Sequential;
import dev.jnorm.norm.NormConfig;
import dev.jnorm.norm.NormKind;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.norm.StatsReducer;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The study's network for 28×28 grayscale images: three stages of {@code depth} 3×3 convolutions,
 * each followed by the norm and ReLU (16, 32 and 64 channels; 2×2 max pooling after the first two
 * stages), global average pooling and a linear layer to 10 classes. Depth 1 is the small network of
 * the quick study; a larger depth makes a deep plain network (no residual connections: 3·depth
 * convolutions), in which normalization matters. Convolutions have a bias only without a norm (a
 * norm's shift makes it redundant). The same seed gives the same weights whatever the norm.
 */
final class SmallCnn {
    private static final int[] CHANNELS = {16, 32, 64};

    private SmallCnn() {
    }

    /** The norm layers of a network of {@code depth}: one after each convolution. */
    static int normLayers(int depth) {
        return CHANNELS.length * depth;
    }

    /**
     * The small network (depth 1) with the norm named {@code normName} after each convolution, or
     * none for {@link SmallBatchStudy#NO_NORM}; for {@link SmallBatchStudy#WEIGHT_MEAN_ONLY},
     * weight-normalized convolutions each followed by mean-only BatchNorm.
     */
    static Sequential build(String normName, Backend backend, long seed) {
        return build(normName, backend, DType.FLOAT32, 1, seed, null);
    }

    /**
     * As {@link #build(String, Backend, long)}, {@code depth} convolutions a stage, with activations
     * of {@code dtype} (parameters in its {@link DType#parameterType()}), norm layer i (in network
     * order) on rank {@code reducers(i)} of its group where the norm reduces across ranks
     * (SyncBatchNorm; others ignore it).
     */
    static Sequential build(String normName, Backend backend, DType dtype, int depth, long seed,
                            IntFunction<StatsReducer> reducers) {
        if (depth < 1) {
            throw new IllegalArgumentException("--depth must be positive, got " + depth);
        }
        boolean weightNormed = normName.equals(SmallBatchStudy.WEIGHT_MEAN_ONLY);
        NormSpec norm = normName.equals(SmallBatchStudy.NO_NORM) ? null
                : NormRegistry.named(weightNormed ? NormKind.MEAN_ONLY_BATCH.commandName() : normName);
        Init init = new Init(seed);
        DType t = dtype;
        List<Layer> layers = new ArrayList<>();
        int in = 1;
        int size = 28;
        int normLayer = 0;
        for (int stage = 0; stage < CHANNELS.length; stage++) {
            int out = CHANNELS[stage];
            for (int conv = 0; conv < depth; conv++) {
                layers.add(weightNormed ? new WeightNormConv2d(backend, t, in, out, 3, false, init)
                        : new Conv2d(backend, t, in, out, 3, norm == null, init));
                if (norm != null) {
                    NormConfig config = reducers == null ? config(out)
                            : config(out).reducer(reducers.apply(normLayer));
                    layers.add(norm.build(backend, Shape.of(1, out, size, size), config, t));
                }
                normLayer++;
                layers.add(new Relu(backend, t));
                in = out;
            }
            if (stage < CHANNELS.length - 1) {
                layers.add(new MaxPool2d(backend, t));
                size /= 2;
            }
        }
        layers.add(new GlobalAvgPool(backend, t));
        layers.add(new Linear(backend, t, in, 10, init));
        return new Sequential(layers);
    }

    /**
     * GroupNorm takes 8 groups of 16 channels and 16 groups of more; LayerNorm normalizes (C, H, W);
     * every norm learns its affine parameters (InstanceNorm's are off by default).
     */
    private static NormConfig config(int channels) {
        return NormConfig.defaults().groups(Math.min(16, channels / 2)).normalizedDims(3).affine(true);
    }
}
