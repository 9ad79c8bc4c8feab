package dev.jnorm.norm;

import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.SwitchableStats;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/**
 * A Switchable forward pass: the output, the mixed statistics per (n, c) and the instance, layer and
 * batch statistics they were mixed from, and its {@link #backward}.
 */
public final class SwitchableOutput extends SavedForward<SwitchableStats> {
    private final NcsLayout layout;

    SwitchableOutput(Tensor input, Tensor output, SwitchableStats saved, NcsLayout layout, boolean batchStatistics) {
        super(input, output, saved, batchStatistics);
        this.layout = layout;
    }

    /**
     * The gradient of the input; adds the gradients of both mixing logits and of the affine
     * parameters into the gradient buffers that are not null.
     *
     * @param dy the output's gradient
     * @param mixing the mixing logits the forward used
     * @param affine the affine parameters the forward used
     * @param gradMixing the logits' gradients, accumulated where not null
     * @param gradAffine the affine parameters' gradients, accumulated where not null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, MixingWeights mixing, Affine affine, MixingWeights gradMixing,
                           Affine gradAffine) {
        Tensor x = checkedInput(dy);
        long c = layout.c();
        Norms.checkMixingWeights(x, mixing);
        Checks.parameter(x, "grad_mean_weight", gradMixing.meanWeight(), 3);
        Checks.parameter(x, "grad_var_weight", gradMixing.varWeight(), 3);
        Checks.affineBackward(x, affine, gradAffine, c);
        return gradient(dx -> new SwitchableOp.Backward(layout, batchStatistics(), x, dy, statistics(),
                mixing.meanWeight(), mixing.varWeight(), affine.weight(), dx, gradMixing.meanWeight(),
                gradMixing.varWeight(), gradAffine.weight(), gradAffine.bias()));
    }

    /** The mixed mean and rstd per (n, c). */
    @Override
    public Map<String, Tensor> savedStatistics() {
        return orderedMap("mean", statistics().mean(), "rstd", statistics().rstd());
    }
}
