package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/** A WeightNorm forward pass: the weight {@code w = g·v/‖v‖}, the norms, and its {@link #backward}. */
public final class WeightNormOutput implements ForwardResult {
    private final Tensor v;
    private final Tensor w;
    private final Tensor norm;
    private final NcsLayout layout;

    WeightNormOutput(Tensor v, Tensor w, Tensor norm, NcsLayout layout) {
        this.v = v;
        this.w = w;
        this.norm = norm;
        this.layout = layout;
    }

    /** The weight {@code w}, shaped like {@code v}. */
    @Override
    public Tensor output() {
        return w;
    }

    /**
     * {@code ‖v‖} per slice along the norm's dim: a vector.
     *
     * @return the norms
     */
    public Tensor norm() {
        return norm;
    }

    /**
     * Adds the gradients of {@code v} and {@code g} for {@code dw}, the gradient of the weight.
     *
     * @param dw the loss's gradient by {@code w}
     * @param g the magnitudes the forward used
     * @param gradV v's gradient, accumulated
     * @param gradG g's gradient, accumulated
     */
    public void backward(Tensor dw, Tensor g, Tensor gradV, Tensor gradG) {
        Checks.input(v, "v");
        Checks.gradOutput(v, dw);
        Checks.input(g, "g");
        Checks.parameter(v, "g", g, layout.c());
        Checks.parameter(v, "grad_v", gradV, v.numel());
        Checks.parameter(v, "grad_g", gradG, layout.c());
        if (norm.isClosed()) {
            throw Checks.fail("the norms saved by the forward pass are closed");
        }
        if (v.numel() > 0) {
            v.backend().run(new WeightNormOp.Backward(layout, v, g, norm, dw, gradV, gradG));
        }
    }

    @Override
    public void closeSaved() {
        norm.close();
    }

    @Override
    public Map<String, Tensor> savedStatistics() {
        return Map.of("norm", norm);
    }
}
