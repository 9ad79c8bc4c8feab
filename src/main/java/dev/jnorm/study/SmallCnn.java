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
 * The study's network for 28×28 grayscale images: three blocks of 3×3 convolution, norm, ReLU
 * (16, 32 and 64 channels; 2×2 max pooling after the first two), global average pooling and a
 * linear layer to 10 classes. Convolutions have a bias only without a norm (a norm's shift makes it
 * redundant). The same seed gives the same weights whatever the norm.
 */
final class SmallCnn {
    private static final int[] CHANNELS = {16, 32, 64};
    /** The norm layers of the network, one per block. */
    static final int NORM_LAYERS = CHANNELS.length;

    private SmallCnn() {
    }

    /**
     * The network with the norm named {@code normName} after each convolution, or none for
     * {@link SmallBatchStudy#NO_NORM}; for {@link SmallBatchStudy#WEIGHT_MEAN_ONLY}, weight-normalized
     * convolutions each followed by mean-only BatchNorm.
     */
    static Sequential build(String normName, Backend backend, long seed) {
        return build(normName, backend, DType.FLOAT32, seed, null);
    }

    /**
     * As {@link #build(String, Backend, long)}, with activations of {@code dtype} (parameters in its
     * {@link DType#parameterType()}), the norm layer of block b on rank {@code reducers(b)} of its
     * group where the norm reduces across ranks (SyncBatchNorm; others ignore it).
     */
    static Sequential build(String normName, Backend backend, DType dtype, long seed,
                            IntFunction<StatsReducer> reducers) {
        boolean weightNormed = normName.equals(SmallBatchStudy.WEIGHT_MEAN_ONLY);
        NormSpec norm = normName.equals(SmallBatchStudy.NO_NORM) ? null
                : NormRegistry.named(weightNormed ? NormKind.MEAN_ONLY_BATCH.commandName() : normName);
        Init init = new Init(seed);
        DType t = dtype;
        List<Layer> layers = new ArrayList<>();
        int in = 1;
        int size = 28;
        for (int block = 0; block < CHANNELS.length; block++) {
            int out = CHANNELS[block];
            layers.add(weightNormed ? new WeightNormConv2d(backend, t, in, out, 3, false, init)
                    : new Conv2d(backend, t, in, out, 3, norm == null, init));
            if (norm != null) {
                NormConfig config = reducers == null ? config(out) : config(out).reducer(reducers.apply(block));
                layers.add(norm.build(backend, Shape.of(1, out, size, size), config, t));
            }
            layers.add(new Relu(backend, t));
            if (block < CHANNELS.length - 1) {
                layers.add(new MaxPool2d(backend, t));
                size /= 2;
            }
            in = out;
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
