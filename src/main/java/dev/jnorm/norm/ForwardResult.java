package dev.jnorm.norm;

import dev.jnorm.tensor.Tensor;
import java.util.Map;

/** The result of a functional forward pass: its output, and what its backward needs. */
public interface ForwardResult extends AutoCloseable {

    /**
     * The normalized output, owned by the caller.
     *
     * @return the output
     */
    Tensor output();

    /**
     * The statistics saved for the backward pass, by name ({@code mean}, {@code rstd},
     * {@code instance_mean}, ...), as {@code jnorm run} writes them ({@code saved_<name>.npy}).
     *
     * @return the statistics, in a fixed order
     */
    Map<String, Tensor> savedStatistics();

    /** Frees the statistics saved for the backward pass, leaving the output to its owner. */
    void closeSaved();

    /** Frees the output and the saved statistics. */
    @Override
    default void close() {
        output().close();
        closeSaved();
    }
}
