package dev.jnorm.testing;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Layer;
import dev.jnorm.module.Parameter;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.SplittableRandom;

/** Seeded random tensors and arrays for tests. */
public final class TestData {
    private TestData() {
    }

    /** Standard normal values. */
    public static double[] randn(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i += 2) {
            // Box-Muller: two normals from two uniforms.
            double u1 = 1 - r.nextDouble();
            double u2 = r.nextDouble();
            double radius = Math.sqrt(-2 * Math.log(u1));
            v[i] = radius * Math.cos(2 * Math.PI * u2);
            if (i + 1 < n) {
                v[i + 1] = radius * Math.sin(2 * Math.PI * u2);
            }
        }
        return v;
    }

    /** Uniform values in [lo, hi). */
    public static double[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * r.nextDouble();
        }
        return v;
    }

    public static Tensor randn(Backend backend, long seed, DType dtype, long... dims) {
        Shape shape = Shape.of(dims);
        Tensor t = backend.allocate(shape, dtype);
        t.copyFrom(randn(seed, (int) shape.numel()));
        return t;
    }

    public static Tensor tensor(Backend backend, DType dtype, double[] values, long... dims) {
        Tensor t = backend.allocate(Shape.of(dims), dtype);
        t.copyFrom(values);
        return t;
    }

    /**
     * Sets every parameter of {@code layer} to uniform values in [0.5, 1.5) that float32 holds
     * exactly (parameter k from seed 100 + k), so that layers of any dtype start from the same ones.
     */
    public static void float32Parameters(Layer layer) {
        long seed = 100;
        for (Parameter p : layer.parameters()) {
            double[] v = uniform(seed++, (int) p.value().numel(), 0.5, 1.5);
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) v[i];
            }
            p.value().copyFrom(v);
        }
    }

    /** Sets a tensor to standard normal values. */
    public static void fillRandn(Tensor t, long seed) {
        t.copyFrom(randn(seed, (int) t.numel()));
    }

    /** Sets a tensor to uniform values in [lo, hi). */
    public static void fillUniform(Tensor t, long seed, double lo, double hi) {
        t.copyFrom(uniform(seed, (int) t.numel(), lo, hi));
    }
}
