package dev.jnorm.nn;

import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Stochastic gradient descent with momentum and weight decay, as torch.optim.SGD (no dampening,
 * not Nesterov): {@code d = grad + weightDecay·p}, {@code v = momentum·v + d}, {@code p −= lr·v}.
 */
public final class Sgd implements AutoCloseable {
    private final List<Parameter> parameters;
    private final List<Tensor> velocities = new ArrayList<>();
    private double learningRate;
    private final double momentum;
    private final double weightDecay;

    /**
     * An optimizer of {@code parameters}, with a velocity buffer for each.
     *
     * @param parameters what it updates
     * @param learningRate lr
     * @param momentum the velocity's decay
     * @param weightDecay the L2 penalty's factor
     */
    public Sgd(List<Parameter> parameters, double learningRate, double momentum, double weightDecay) {
        this.parameters = List.copyOf(parameters);
        this.learningRate = learningRate;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        for (Parameter p : this.parameters) {
            velocities.add(p.value().backend().allocate(p.value().shape(), p.value().dtype()));
        }
    }

    /**
     * One update of every parameter from its gradient.
     */
    public void step() {
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            p.value().backend().network().sgdStep(p.value(), p.grad(), velocities.get(i), (float) learningRate,
                    (float) momentum, (float) weightDecay);
        }
    }

    /**
     * The rate the next {@link #step()} takes.
     *
     * @return lr
     */
    public double learningRate() {
        return learningRate;
    }

    /**
     * Sets the rate of the steps that follow, as a schedule does (PyTorch's {@code group["lr"] = …});
     * the velocities are kept.
     *
     * @param learningRate lr from the next step on
     */
    public void setLearningRate(double learningRate) {
        this.learningRate = learningRate;
    }

    /**
     * Zeroes every parameter's gradient.
     */
    public void zeroGrad() {
        parameters.forEach(Parameter::zeroGrad);
    }

    @Override
    public void close() {
        velocities.forEach(Tensor::close);
    }
}
