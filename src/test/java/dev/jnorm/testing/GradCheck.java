package dev.jnorm.testing;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.function.DoubleSupplier;

/**
 * Finite-difference gradient checks in float64: the loss {@code L = Σ y·r} for a fixed random
 * {@code r}, its analytic gradient from one backward with {@code dy = r}, and central differences
 * {@code (L(θ + h) − L(θ − h))/2h} for every element of the input and of every parameter.
 */
public final class GradCheck {
    private static final double H = 1e-6;
    private static final double ATOL = 1e-7;
    private static final double RTOL = 1e-6;

    private GradCheck() {
    }

    public static void check(Layer layer, Tensor x, long seed) {
        Backend backend = x.backend();
        Shape outShape;
        try (Tensor y = layer.forward(x)) {
            outShape = y.shape();
        }
        double[] r = TestData.randn(seed, (int) outShape.numel());
        try (Tensor dy = TestData.tensor(backend, x.dtype(), r, outShape.dims())) {
            layer.parameters().forEach(Parameter::zeroGrad);
            double[] analytic;
            try (Tensor y = layer.forward(x); Tensor dx = layer.backward(dy)) {
                analytic = dx.toDoubleArray();
            }
            DoubleSupplier loss = () -> {
                try (Tensor y = layer.forward(x)) {
                    return dot(y.toDoubleArray(), r);
                }
            };
            Close.assertClose(numeric(x, loss), analytic, ATOL, RTOL, "grad of input");
            for (Parameter p : layer.parameters()) {
                Close.assertClose(numeric(p.value(), loss), p.grad().toDoubleArray(), ATOL, RTOL, "grad of " + p.name());
            }
        }
    }

    public static void check(WeightNorm layer, long seed) {
        Tensor v = layer.v().value();
        double[] r = TestData.randn(seed, (int) v.numel());
        try (Tensor dw = TestData.tensor(layer.backend(), v.dtype(), r, v.shape().dims())) {
            layer.zeroGrad();
            try (Tensor w = layer.forward()) {
                layer.backward(dw);
            }
            DoubleSupplier loss = () -> {
                try (Tensor w = layer.forward()) {
                    return dot(w.toDoubleArray(), r);
                }
            };
            for (Parameter p : layer.parameters()) {
                Close.assertClose(numeric(p.value(), loss), p.grad().toDoubleArray(), ATOL, RTOL, "grad of " + p.name());
            }
        }
    }

    private static double[] numeric(Tensor t, DoubleSupplier loss) {
        double[] v = t.toDoubleArray();
        double[] g = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double original = v[i];
            v[i] = original + H;
            t.copyFrom(v);
            double plus = loss.getAsDouble();
            v[i] = original - H;
            t.copyFrom(v);
            double minus = loss.getAsDouble();
            v[i] = original;
            t.copyFrom(v);
            g[i] = (plus - minus) / (2 * H);
        }
        return g;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
