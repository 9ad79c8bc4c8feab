package dev.jnorm.backend;

import dev.jnorm.tensor.Tensor;

/**
 * What a Batch-Instance forward pass saves for its backward: the BatchNorm statistics per
 * channel {@code [C]} (batch or running) and the InstanceNorm statistics per (n, c) {@code [N, C]}.
 */
public record BatchInstanceStats(Tensor batchMean, Tensor batchRstd, Tensor instanceMean, Tensor instanceRstd)
        implements AutoCloseable {

    @Override
    public void close() {
        batchMean.close();
        batchRstd.close();
        instanceMean.close();
        instanceRstd.close();
    }
}
