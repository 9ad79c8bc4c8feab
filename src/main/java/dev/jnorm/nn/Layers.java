package dev.jnorm.nn;

import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/** Checks the layers of this package share. */
final class Layers {
    private Layers() {
    }

    /** A backward needs its forward, and an open gradient. */
    static void requireForward(Object saved, Tensor dy) {
        if (saved == null) {
            throw new IllegalStateException("no forward() has run on this layer yet");
        }
        if (dy.isClosed()) {
            throw new IllegalArgumentException("grad_output tensor is closed");
        }
    }

    /** The gradient of the output has the output's shape (the norm layers' message). */
    static void requireGradOutput(Tensor dy, Shape output) {
        if (!dy.shape().equals(output)) {
            throw new IllegalArgumentException("grad_output should have the output's shape " + output + ", got "
                    + dy.shape());
        }
    }

    static void requireShape(Tensor t, Shape expected, String what) {
        if (!t.shape().equals(expected)) {
            throw new IllegalArgumentException(what + " should have shape " + expected + ", got " + t.shape());
        }
    }
}
