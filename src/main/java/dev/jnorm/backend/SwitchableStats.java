package dev.jnorm.backend;

import dev.jnorm.tensor.Tensor;

/**
 * What a Switchable forward pass saves for its backward: the mixed statistics that normalized
 * each (n, c) row ({@code mean}, {@code rstd}, both {@code [N, C]}) and the three sets they were
 * mixed from, as mean and biased variance: instance {@code [N, C]}, layer {@code [N]} and batch
 * {@code [C]} (the running statistics when the batch term used them).
 */
public record SwitchableStats(Tensor mean, Tensor rstd,
                              Tensor instanceMean, Tensor instanceVar,
                              Tensor layerMean, Tensor layerVar,
                              Tensor batchMean, Tensor batchVar) implements AutoCloseable {

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {mean, rstd, instanceMean, instanceVar, layerMean, layerVar, batchMean, batchVar}) {
            t.close();
        }
    }
}
