package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A convolution with its weight reparameterized by {@link WeightNorm} along the output channels:
 * {@code w = g·v/‖v‖}, v and g learned in the weight's place (and the bias, if any). Each forward
 * makes w and convolves with it; each backward takes the convolution's weight gradient back through
 * WeightNorm into v and g. It starts as the plain convolution it wraps (g = ‖v‖).
 */
public final class WeightNormConv2d implements Layer {
    private final Backend backend;
    private final Conv2d conv;
    private final WeightNorm weightNorm;

    /**
     * As {@link Conv2d#Conv2d(Backend, DType, int, int, int, boolean, Init)}, the weight normalized.
     *
     * @param backend where it computes
     * @param dtype its dtype
     * @param in input channels
     * @param out output channels
     * @param kernel k, odd
     * @param bias whether it has a bias
     * @param init the seeded initializer of the weights
     */
    public WeightNormConv2d(Backend backend, DType dtype, int in, int out, int kernel, boolean bias, Init init) {
        this.backend = backend;
        this.conv = new Conv2d(backend, dtype, in, out, kernel, bias, init);
        this.weightNorm = WeightNorm.builder().dim(0).build(conv.weight().value());
    }

    @Override
    public Tensor forward(Tensor x) {
        try (Tensor w = weightNorm.forward()) {
            backend.copy(w, conv.weight().value());
        }
        return conv.forward(x);
    }

    @Override
    public Tensor backward(Tensor dy) {
        conv.weight().zeroGrad(); // the convolution's weight gradient is this step's dw alone
        Tensor dx = conv.backward(dy);
        weightNorm.backward(conv.weight().grad());
        return dx;
    }

    /** v and g (PyTorch's weight_v, weight_g), then the bias if any. */
    @Override
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>(weightNorm.parameters());
        if (conv.bias() != null) {
            all.add(conv.bias());
        }
        return all;
    }

    @Override
    public void close() {
        weightNorm.close();
        conv.close();
    }
}
