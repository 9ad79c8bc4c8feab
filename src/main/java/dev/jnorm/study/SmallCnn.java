package dev.jnorm.study;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.nn.Conv2d;
import dev.jnorm.nn.GlobalAvgPool;
import dev.jnorm.nn.Init;
import dev.jnorm.nn.Linear;
import dev.jnorm.nn.MaxPool2d;
import dev.jnorm.nn.Relu;
import dev.jnorm.nn.Sequential;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.InstanceNorm;
import dev.jnorm.norm.LayerNorm;
import dev.jnorm.norm.SwitchableNorm;
import dev.jnorm.tensor.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * The study's network for 28×28 grayscale images: three blocks of 3×3 convolution, norm, ReLU
 * (16, 32 and 64 channels; 2×2 max pooling after the first two), global average pooling and a
 * linear layer to 10 classes. Convolutions have a bias only without a norm (a norm's shift makes it
 * redundant). The same seed gives the same weights whatever the norm.
 */
final class SmallCnn {
    private static final int[] CHANNELS = {16, 32, 64};

    private SmallCnn() {
    }

    static Sequential build(String norm, Backend backend, long seed) {
        Init init = new Init(seed);
        DType f32 = DType.FLOAT32;
        List<Layer> layers = new ArrayList<>();
        int in = 1;
        int size = 28;
        for (int block = 0; block < CHANNELS.length; block++) {
            int out = CHANNELS[block];
            layers.add(new Conv2d(backend, f32, in, out, 3, norm.equals("none"), init));
            if (!norm.equals("none")) {
                layers.add(norm(norm, out, size, backend));
            }
            layers.add(new Relu(backend, f32));
            if (block < CHANNELS.length - 1) {
                layers.add(new MaxPool2d(backend, f32));
                size /= 2;
            }
            in = out;
        }
        layers.add(new GlobalAvgPool(backend, f32));
        layers.add(new Linear(backend, f32, in, 10, init));
        return new Sequential(layers);
    }

    /** GroupNorm takes 8 groups of 16 channels and 16 groups of more; LayerNorm normalizes (C, H, W). */
    private static Layer norm(String norm, int channels, int size, Backend backend) {
        return switch (norm) {
            case "batch" -> BatchNorm.builder(channels).build(backend);
            case "group" -> GroupNorm.builder(Math.min(16, channels / 2), channels).build(backend);
            case "instance" -> InstanceNorm.builder(channels).affine(true).build(backend);
            case "layer" -> LayerNorm.builder(channels, size, size).build(backend);
            case "batch-instance" -> BatchInstanceNorm.builder(channels).build(backend);
            case "switchable" -> SwitchableNorm.builder(channels).build(backend);
            default -> throw new IllegalStateException("no norm layer named '" + norm + "'");
        };
    }
}
