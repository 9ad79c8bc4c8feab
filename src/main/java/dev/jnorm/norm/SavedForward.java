package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NormOp;
import dev.jnorm.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A forward pass of a norm that normalizes an input: its output (the caller's), the statistics its
 * backward needs (its own, freed by {@link #closeSaved()}), and the scaffold of that backward.
 *
 * @param <S> the saved statistics
 */
public abstract class SavedForward<S extends AutoCloseable> implements ForwardResult {
    private final Tensor input;
    private final Tensor output;
    private final S saved;
    private final boolean batchStatistics;
    private boolean savedClosed;

    SavedForward(Tensor input, Tensor output, S saved, boolean batchStatistics) {
        this.input = input;
        this.output = output;
        this.saved = saved;
        this.batchStatistics = batchStatistics;
    }

    @Override
    public Tensor output() {
        return output;
    }

    /**
     * The saved statistics.
     *
     * @return the statistics
     */
    public S statistics() {
        return saved;
    }

    /**
     * True when the statistics came from the input, false when from running statistics.
     *
     * @return whether the input's statistics normalized it
     */
    public boolean batchStatistics() {
        return batchStatistics;
    }

    /**
     * The forward pass's input, after checking that it is still open and that {@code dy}, the
     * gradient of the output, matches it: a backward's first step.
     */
    Tensor checkedInput(Tensor dy) {
        Checks.input(input, "the forward pass's input");
        Checks.gradOutput(input, dy);
        return input;
    }

    /**
     * The input's gradient: allocates it and runs the op {@code backward} makes for it (nothing for
     * an empty input), once the statistics are found still open. A failed call leaves nothing
     * allocated.
     */
    Tensor gradient(Function<Tensor, NormOp> backward) {
        if (savedClosed) {
            throw Checks.fail("the statistics saved by the forward pass are closed");
        }
        Backend backend = input.backend();
        try (Outputs out = new Outputs(backend, input.dtype())) {
            Tensor dx = out.empty(input.shape());
            if (input.numel() > 0) {
                backend.run(backward.apply(dx));
            }
            out.keep();
            return dx;
        }
    }

    @Override
    public void closeSaved() {
        if (savedClosed) {
            return;
        }
        savedClosed = true;
        try {
            saved.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the saved statistics", e);
        }
    }

    /** A map of names to tensors in the order given: name, tensor, name, tensor, ... */
    static Map<String, Tensor> orderedMap(Object... namesAndTensors) {
        Map<String, Tensor> map = new LinkedHashMap<>();
        for (int i = 0; i < namesAndTensors.length; i += 2) {
            map.put((String) namesAndTensors[i], (Tensor) namesAndTensors[i + 1]);
        }
        return map;
    }
}
