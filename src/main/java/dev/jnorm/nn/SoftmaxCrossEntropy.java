package dev.jnorm.nn;

import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The mean cross-entropy of {@code softmax(logits [B, K])} against class labels (integers in
 * [0, K), held as floats), as torch.nn.functional.cross_entropy; its gradient is
 * {@code (softmax − onehot)/B}.
 */
public final class SoftmaxCrossEntropy implements AutoCloseable {
    private Tensor gradient;

    /**
     * The loss; keeps the gradient of the logits for {@link #backward()}.
     *
     * @param logits the scores {@code [B, K]}
     * @param labels the classes {@code [B]}
     * @return the mean loss
     */
    public double forward(Tensor logits, Tensor labels) {
        Shape s = logits.shape();
        if (s.rank() != 2 || !labels.shape().equals(Shape.of(s.dim(0)))) {
            throw new IllegalArgumentException("cross-entropy expects logits [B, K] and labels [B], got " + s + " and "
                    + labels.shape());
        }
        for (double label : labels.toDoubleArray()) {
            if (!(label >= 0 && label < s.dim(1) && label == Math.rint(label))) {
                throw new IllegalArgumentException("Target " + (label == Math.rint(label) ? Long.toString((long) label)
                        : Double.toString(label)) + " is out of bounds.");
            }
        }
        close();
        gradient = logits.backend().empty(s, logits.dtype());
        return logits.backend().network().softmaxCrossEntropy(logits, labels, gradient);
    }

    /**
     * The gradient of the last loss with respect to the logits; it belongs to the caller.
     *
     * @return dlogits {@code [B, K]}
     */
    public Tensor backward() {
        if (gradient == null) {
            throw new IllegalStateException("no forward() has run since the last backward()");
        }
        Tensor g = gradient;
        gradient = null;
        return g;
    }

    @Override
    public void close() {
        if (gradient != null) {
            gradient.close();
            gradient = null;
        }
    }
}
