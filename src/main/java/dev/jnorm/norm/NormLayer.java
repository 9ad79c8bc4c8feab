package dev.jnorm.norm;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Module;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A normalization layer: a train/eval mode (training by default, as in PyTorch), a
 * {@link #forward} that keeps what its {@link #backward} needs, parameters whose gradients
 * accumulate. The tensors {@code forward} and {@code backward} return belong to the caller;
 * {@link #close()} frees the parameters, buffers and saved statistics.
 *
 * <p>A layer may be applied several times before its backward passes, as a network that reuses it
 * does: each forward keeps its own context, and each backward takes back the most recent forward
 * not yet taken back, as autograd does (so the backward passes run in the reverse order of the
 * forward passes). At most {@value #MAX_PENDING} forwards wait for their backward; beyond, the
 * oldest is dropped, and a backward that would need it is refused.
 *
 * @param <L> the concrete layer, which {@link #train()}, {@link #eval()} and {@link #setTraining} return
 */
public abstract class NormLayer<L extends NormLayer<L>> extends Module implements Layer {
    /** The most forward passes that wait for their backward. */
    public static final int MAX_PENDING = 256;

    private final Deque<ForwardResult> pending = new ArrayDeque<>();
    private ForwardResult last;
    private boolean training = true;

    /**
     * A layer on {@code backend} whose parameters, buffers and inputs have {@code dtype}.
     *
     * @param backend where it computes
     * @param dtype its dtype
     */
    protected NormLayer(Backend backend, DType dtype) {
        super(backend, dtype);
        own(() -> {
            pending.forEach(ForwardResult::closeSaved);
            if (last != null) {
                last.closeSaved();
            }
        });
    }

    /** Normalizes {@code x}, which must have this layer's dtype and backend. */
    @Override
    public abstract Tensor forward(Tensor x);

    /**
     * The gradient, for {@code dy} (the gradient of its output), of the input of the most recent
     * forward not yet taken back; adds the parameters' gradients into their {@link Parameter#grad()}.
     * Uses the parameters' current values, so call it before updating them.
     *
     * @throws IllegalStateException when every forward has been taken back already
     */
    @Override
    public final Tensor backward(Tensor dy) {
        return backward(dy, false);
    }

    /**
     * As {@link #backward(Tensor)}; with {@code retain}, the forward stays to be taken back again,
     * as PyTorch's {@code retain_graph} keeps a graph (to time a backward, say).
     *
     * @param dy the gradient of the forward's output
     * @param retain keep the forward to be taken back again
     * @return the gradient of the forward's input
     * @throws IllegalStateException when every forward has been taken back already
     */
    public final Tensor backward(Tensor dy, boolean retain) {
        requireOpen();
        if (pending.isEmpty()) {
            throw new IllegalStateException(last == null ? "no forward() has run on this layer yet"
                    : "backward() without a forward() to take back: each backward takes back one forward, the most "
                    + "recent first, and every forward has been taken back (or dropped, beyond " + MAX_PENDING + ")");
        }
        ForwardResult forward = pending.peek();
        Tensor dx = backwardThrough(forward, dy);
        if (!retain) {
            pending.pop();
            if (forward != last) {
                forward.closeSaved();
            }
        }
        return dx;
    }

    /**
     * The gradient through one forward pass of this layer (made by its {@link #forward}).
     *
     * @param forward what the forward kept
     * @param dy the gradient of its output
     * @return the gradient of its input
     */
    protected abstract Tensor backwardThrough(ForwardResult forward, Tensor dy);

    /**
     * The last forward's result: its output and saved statistics (owned by this layer, but the
     * output), kept after its backward until the next forward.
     *
     * @return the last forward's result
     * @throws IllegalStateException before any forward
     */
    public abstract ForwardResult lastForward();

    /**
     * How many forward passes wait for their backward.
     *
     * @return the number of forwards not yet taken back
     */
    public int pendingBackward() {
        return pending.size();
    }

    /**
     * Whether this layer is in training mode.
     *
     * @return true in training mode, false in evaluation mode
     */
    public boolean isTraining() {
        return training;
    }

    /** Sets training (true) or evaluation (false) mode. */
    @Override
    @SuppressWarnings("unchecked")
    public L setTraining(boolean training) {
        this.training = training;
        return (L) this;
    }

    /**
     * Training mode: batch statistics, running statistics updated where tracked.
     *
     * @return this layer
     */
    public L train() {
        return setTraining(true);
    }

    /**
     * Evaluation mode: running statistics where tracked.
     *
     * @return this layer
     */
    public L eval() {
        return setTraining(false);
    }

    /**
     * The input must be open, on this layer's backend, with this layer's dtype.
     *
     * @param x the input
     * @throws IllegalArgumentException otherwise, saying what to change
     */
    protected void checkInput(Tensor x) {
        requireOpen();
        Checks.input(x, "input");
        if (x.backend() != backend()) {
            throw Checks.fail("input is on the " + x.backend().name() + " backend, expected this layer's "
                    + backend().name() + " backend");
        }
        if (x.dtype() != dtype()) {
            throw Checks.fail("expected input of dtype " + dtype() + " (the layer's), got " + x.dtype()
                    + ": build the layer with .dtype(DType." + x.dtype().name() + "), or convert the input to "
                    + dtype());
        }
    }

    /**
     * Keeps {@code result} for a backward, and as the last forward.
     *
     * @param <T> the forward's result type
     * @param result the forward's result
     * @return {@code result}
     */
    protected <T extends ForwardResult> T remember(T result) {
        if (last != null && !pending.contains(last)) {
            last.closeSaved();
        }
        last = result;
        pending.push(result);
        if (pending.size() > MAX_PENDING) {
            ForwardResult dropped = pending.removeLast();
            if (dropped != last) {
                dropped.closeSaved();
            }
        }
        return result;
    }

    /**
     * The last forward's result as the type this layer's forward made.
     *
     * @param <T> the forward's result type
     * @param type that type
     * @return the last forward's result
     * @throws IllegalStateException before any forward
     */
    protected <T extends ForwardResult> T lastForward(Class<T> type) {
        requireOpen();
        if (last == null) {
            throw new IllegalStateException("no forward() has run on this layer yet");
        }
        return type.cast(last);
    }

    /**
     * A parameter's value.
     *
     * @param p the parameter, or null
     * @return its value, or null
     */
    protected static Tensor valueOf(Parameter p) {
        return p == null ? null : p.value();
    }

    /**
     * A parameter's gradient.
     *
     * @param p the parameter, or null
     * @return its gradient, or null
     */
    protected static Tensor gradOf(Parameter p) {
        return p == null ? null : p.grad();
    }

    /**
     * The affine weight and bias parameters' values.
     *
     * @param weight the weight parameter, or null
     * @param bias the bias parameter, or null
     * @return their values
     */
    protected static Affine values(Parameter weight, Parameter bias) {
        return new Affine(valueOf(weight), valueOf(bias));
    }

    /**
     * The affine weight and bias parameters' gradients.
     *
     * @param weight the weight parameter, or null
     * @param bias the bias parameter, or null
     * @return their gradients
     */
    protected static Affine grads(Parameter weight, Parameter bias) {
        return new Affine(gradOf(weight), gradOf(bias));
    }
}
