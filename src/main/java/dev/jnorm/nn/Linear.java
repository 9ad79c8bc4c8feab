package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * {@code y = x·Wᵀ + b} for {@code x [B, in]}, W {@code [out, in]}. Backward: {@code dW += dyᵀ·x},
 * {@code db += Σ dy}, {@code dx = dy·W}. Weights start Kaiming-normal, the bias at 0.
 */
public final class Linear extends Module implements Layer {
    private final int in;
    private final int out;
    private final Parameter weight;
    private final Parameter bias;
    private Tensor input;

    /**
     * A layer from {@code in} to {@code out} features.
     *
     * @param backend where it computes
     * @param dtype its dtype
     * @param in input features
     * @param out output features
     * @param init the seeded initializer of the weights
     */
    public Linear(Backend backend, DType dtype, int in, int out, Init init) {
        super(backend, dtype);
        this.in = in;
        this.out = out;
        this.weight = addParameter("weight", Shape.of(out, in), 0);
        this.bias = addParameter("bias", Shape.of(out), 0);
        init.kaimingNormal(weight, in);
    }

    /**
     * The weight.
     *
     * @return W {@code [out, in]}
     */
    public Parameter weight() {
        return weight;
    }

    /**
     * The bias.
     *
     * @return b {@code [out]}
     */
    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        requireOpen();
        int batch = (int) x.shape().dim(0);
        Layers.requireShape(x, Shape.of(batch, in), "Linear input");
        Tensor y = backend().empty(Shape.of(batch, out), dtype());
        // 16-bit logits are rounded once, after the bias: the GEMM and the bias in float32 first
        try (Tensor wide = dtype().sixteenBit() ? backend().empty(y.shape(), DType.FLOAT32) : null) {
            Tensor sum = wide == null ? y : wide;
            backend().network().gemm(false, true, batch, out, in, 1, x, weight.value(), 0, sum);
            backend().network().addBias(sum, NcsLayout.of(y.shape()), bias.value());
            if (wide != null) {
                backend().copy(wide, y);
            }
        }
        input = x;
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireOpen();
        Layers.requireForward(input, dy);
        int batch = (int) input.shape().dim(0);
        Layers.requireGradOutput(dy, Shape.of(batch, out));
        backend().network().gemm(true, false, out, in, batch, 1, dy, input, 1, weight.grad());
        backend().network().biasGrad(dy, NcsLayout.of(dy.shape()), bias.grad());
        Tensor dx = backend().empty(input.shape(), dtype());
        backend().network().gemm(false, false, batch, in, out, 1, dy, weight.value(), 0, dx);
        return dx;
    }
}
