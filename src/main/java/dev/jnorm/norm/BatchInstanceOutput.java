package dev.jnorm.norm;

import dev.jnorm.backend.BatchInstanceStats;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.tensor.Tensor;
import java.util.Map;

/**
 * A Batch-Instance forward pass: the output, both sets of statistics (BatchNorm mean {@code [C]} and
 * rstd, InstanceNorm mean {@code [N, C]} and rstd), and its {@link #backward}.
 */
public final class BatchInstanceOutput extends SavedForward<BatchInstanceStats> {
    private final NcsLayout layout;

    BatchInstanceOutput(Tensor input, Tensor output, BatchInstanceStats saved, NcsLayout layout,
                        boolean batchStatistics) {
        super(input, output, saved, batchStatistics);
        this.layout = layout;
    }

    /**
     * The gradient of the input; adds the gradients of rho and of the affine parameters into the
     * gradient buffers that are not null ({@code gradAffine}'s weight and bias hold the gradients).
     *
     * @param dy the output's gradient
     * @param rho the mix ρ the forward used
     * @param affine the affine parameters the forward used
     * @param gradRho ρ's gradient, accumulated, or null
     * @param gradAffine the affine parameters' gradients, accumulated where not null
     * @return the input's gradient, the caller's to close
     */
    public Tensor backward(Tensor dy, Tensor rho, Affine affine, Tensor gradRho, Affine gradAffine) {
        Tensor x = checkedInput(dy);
        long c = layout.c();
        Checks.input(rho, "rho");
        Checks.parameter(x, "rho", rho, c);
        Checks.parameter(x, "weight", affine.weight(), c);
        Checks.parameter(x, "grad_rho", gradRho, c);
        Checks.parameter(x, "grad_weight", gradAffine.weight(), c);
        Checks.parameter(x, "grad_bias", gradAffine.bias(), c);
        return gradient(dx -> new BatchInstanceOp.Backward(layout, batchStatistics(), x, dy, statistics(), rho,
                affine.weight(), dx, gradRho, gradAffine.weight(), gradAffine.bias()));
    }

    /** The BatchNorm statistics as mean and rstd, the InstanceNorm ones as instance_mean and instance_rstd. */
    @Override
    public Map<String, Tensor> savedStatistics() {
        BatchInstanceStats s = statistics();
        return orderedMap("mean", s.batchMean(), "rstd", s.batchRstd(), "instance_mean", s.instanceMean(),
                "instance_rstd", s.instanceRstd());
    }
}
