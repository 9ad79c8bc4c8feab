package dev.jnorm.nn;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * A k×k convolution, stride 1, "same" zero padding (k odd), as im2col + GEMM per image on the
 * backend ({@link dev.jnorm.backend.NetworkOps#convForward}): {@code y[n] = W·cols(x[n]) (+ bias)},
 * W of shape {@code [out, in·k·k]}. Backward: {@code dW += dy[n]·cols(x[n])ᵀ},
 * {@code dx[n] = col2im(Wᵀ·dy[n])}, the columns recomputed rather than kept. Weights start
 * Kaiming-normal (fan in, ReLU gain), the bias at 0.
 */
public final class Conv2d extends Module implements Layer {
    private final int in;
    private final int out;
    private final int kernel;
    private final Parameter weight;
    private final Parameter bias;
    private Tensor input;

    /**
     * A convolution from {@code in} to {@code out} channels.
     *
     * @param backend where it computes
     * @param dtype its dtype
     * @param in input channels
     * @param out output channels
     * @param kernel k, odd
     * @param bias whether it has a bias
     * @param init the seeded initializer of the weights
     */
    public Conv2d(Backend backend, DType dtype, int in, int out, int kernel, boolean bias, Init init) {
        super(backend, dtype);
        if (kernel % 2 == 0) {
            throw new IllegalArgumentException("kernel size must be odd for same padding, got " + kernel);
        }
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.weight = addParameter("weight", Shape.of(out, in, kernel, kernel), 0);
        this.bias = bias ? addParameter("bias", Shape.of(out), 0) : null;
        init.kaimingNormal(weight, in * kernel * kernel);
    }

    /**
     * The filters.
     *
     * @return the weight {@code [out, in, k, k]}
     */
    public Parameter weight() {
        return weight;
    }

    /**
     * The bias.
     *
     * @return the bias {@code [out]}, or null without one
     */
    public Parameter bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor x) {
        requireOpen();
        ConvGeometry g = geometry(x);
        Tensor y = backend().empty(Shape.of(g.n(), out, g.height(), g.width()), dtype());
        backend().network().convForward(x, weight.value(), bias == null ? null : bias.value(), y, g);
        input = x;
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireOpen();
        Layers.requireForward(input, dy);
        ConvGeometry g = geometry(input);
        Layers.requireGradOutput(dy, Shape.of(g.n(), out, g.height(), g.width()));
        Tensor dx = backend().empty(input.shape(), dtype());
        backend().network().convBackward(input, weight.value(), dy, dx, weight.grad(),
                bias == null ? null : bias.grad(), g);
        return dx;
    }

    private ConvGeometry geometry(Tensor x) {
        Shape s = x.shape();
        if (s.rank() != 4 || s.dim(1) != in) {
            throw new IllegalArgumentException("Conv2d expects input [N, " + in + ", H, W], got " + s);
        }
        return new ConvGeometry((int) s.dim(0), in, out, (int) s.dim(2), (int) s.dim(3), kernel);
    }
}
