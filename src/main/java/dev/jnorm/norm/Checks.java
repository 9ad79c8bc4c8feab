package dev.jnorm.norm;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Argument checks shared by every norm, run on the host before any work so that a bad call
 * changes nothing. Messages say what was expected and what was given, in PyTorch's wording
 * where PyTorch has one.
 */
final class Checks {
    private Checks() {
    }

    static IllegalArgumentException fail(String message) {
        return new IllegalArgumentException(message);
    }

    /** The input: open. */
    static void input(Tensor x, String name) {
        if (x == null) {
            throw fail(name + " must not be null");
        }
        if (x.isClosed()) {
            throw fail(name + " tensor is closed");
        }
    }

    /**
     * An optional parameter or buffer used with {@code x}: open, on the same backend, of its
     * {@link DType#parameterType()} (the input's own, or float32 for 16-bit input).
     */
    static void companion(Tensor x, String name, Tensor t) {
        DType expected = x.dtype().parameterType();
        same(x, name, t, expected, expected == x.dtype() ? "the input's" : "the parameters' for " + x.dtype() + " input");
    }

    /** {@code t} is open, on {@code x}'s backend, in {@code dtype} (described as {@code whose}). */
    private static void same(Tensor x, String name, Tensor t, DType dtype, String whose) {
        if (t == null) {
            return;
        }
        if (t.isClosed()) {
            throw fail(name + " tensor is closed");
        }
        if (t.backend() != x.backend()) {
            throw fail(name + " is on the " + t.backend().name() + " backend, expected the input's "
                    + x.backend().name() + " backend");
        }
        if (t.dtype() != dtype) {
            throw fail("expected " + name + " of dtype " + dtype + " (" + whose + "), got " + t.dtype());
        }
    }

    /** {@code "expected 2D, 3D, 4D or 5D input (got 1D input)"}. */
    static void rank(Shape shape, int min, int max) {
        int r = shape.rank();
        if (r >= min && r <= max) {
            return;
        }
        StringBuilder expected = new StringBuilder();
        for (int k = min; k <= max; k++) {
            expected.append(k).append('D').append(k == max ? "" : k == max - 1 ? " or " : ", ");
        }
        throw fail("expected " + expected + " input (got " + r + "D input)");
    }

    static void moreThanOneValuePerChannel(Shape shape) {
        if (shape.dim(0) * shape.product(2, shape.rank()) == 1) {
            throw fail("Expected more than 1 value per channel when training, got input size " + shape);
        }
    }

    static void moreThanOneSpatialElement(Shape shape) {
        if (shape.product(2, shape.rank()) == 1) {
            throw fail("Expected more than 1 spatial element when training, got input size " + shape);
        }
    }

    /** {@code "running_mean should contain 10 elements not 9"}, as PyTorch words it. */
    static void elements(String name, Tensor t, long expected) {
        if (t != null && t.numel() != expected) {
            throw fail(name + " should contain " + expected + " elements not " + t.numel());
        }
    }

    static void eps(double eps) {
        if (Double.isNaN(eps) || eps < 0) {
            throw fail("eps must be a non-negative number, got " + eps);
        }
    }

    static void momentum(double momentum) {
        if (!Double.isFinite(momentum)) {
            throw fail("momentum must be a finite number, got " + momentum);
        }
    }

    /** Batch Renormalization's bounds: r in [1/rmax, rmax] needs rmax ≥ 1, d in [−dmax, dmax] needs dmax ≥ 0. */
    static void renormClipping(double rmax, double dmax) {
        if (!(rmax >= 1)) {
            throw fail("rmax must be at least 1, got " + rmax);
        }
        if (!(dmax >= 0)) {
            throw fail("dmax must be non-negative, got " + dmax);
        }
    }

    /** Running mean and variance come as a pair, and evaluation with running statistics needs them. */
    static void runningPair(Tensor runningMean, Tensor runningVar, boolean useInputStatistics) {
        if ((runningMean == null) != (runningVar == null)) {
            throw fail("running_mean and running_var must be given together");
        }
        if (!useInputStatistics && runningMean == null) {
            throw fail("running_mean must be defined in evaluation mode");
        }
    }

    /** A gradient of the output: open, of the output's shape, dtype and backend. */
    static void gradOutput(Tensor input, Tensor dy) {
        input(dy, "grad_output");
        same(input, "grad_output", dy, input.dtype(), "the input's");
        if (!dy.shape().equals(input.shape())) {
            throw fail("grad_output should have the output's shape " + input.shape() + ", got " + dy.shape());
        }
    }

    /** An optional tensor used with {@code x} that holds one value per parameter. */
    static void parameter(Tensor x, String name, Tensor t, long elements) {
        companion(x, name, t);
        elements(name, t, elements);
    }

    /**
     * A backward's affine arguments, in PyTorch's order: the weight the forward used, then the
     * weight's and bias' gradients to accumulate into, each of {@code elements} values where given.
     */
    static void affineBackward(Tensor x, Affine affine, Affine grads, long elements) {
        parameter(x, "weight", affine.weight(), elements);
        parameter(x, "grad_weight", grads.weight(), elements);
        parameter(x, "grad_bias", grads.bias(), elements);
    }
}
