package dev.jnorm.nn;

import dev.jnorm.module.Layer;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Layers applied in order. It owns the activations between them, which the layers' backward passes
 * still read, and frees them once the backward has gone through (or at the next forward). The
 * final output and the input gradient belong to the caller.
 */
public final class Sequential implements Layer {
    private final List<Layer> layers;
    private final List<Tensor> activations = new ArrayList<>();

    /**
     * The layers, which it owns and closes.
     *
     * @param layers in the order applied
     */
    public Sequential(List<Layer> layers) {
        this.layers = List.copyOf(layers);
    }

    /**
     * The layers.
     *
     * @return them, in order
     */
    public List<Layer> layers() {
        return layers;
    }

    @Override
    public Tensor forward(Tensor x) {
        releaseActivations();
        Tensor t = x;
        for (int i = 0; i < layers.size(); i++) {
            t = layers.get(i).forward(t);
            if (i < layers.size() - 1) {
                activations.add(t);
            }
        }
        return t;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor g = dy;
        for (int i = layers.size() - 1; i >= 0; i--) {
            Tensor next = layers.get(i).backward(g);
            if (g != dy) {
                g.close();
            }
            g = next;
        }
        releaseActivations();
        return g;
    }

    private void releaseActivations() {
        activations.forEach(Tensor::close);
        activations.clear();
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        layers.forEach(l -> all.addAll(l.parameters()));
        return all;
    }

    @Override
    public Sequential setTraining(boolean training) {
        layers.forEach(l -> l.setTraining(training));
        return this;
    }

    @Override
    public void close() {
        releaseActivations();
        layers.forEach(Layer::close);
    }
}
