package dev.jnorm.backend.cuda;

import dev.jnorm.backend.Backend;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.BatchRenorm;
import dev.jnorm.norm.GhostBatchNorm;
import dev.jnorm.norm.InProcessReducer;
import dev.jnorm.norm.MeanOnlyBatchNorm;
import dev.jnorm.norm.ForwardResult;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.InstanceNorm;
import dev.jnorm.norm.LayerNorm;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.RMSNorm;
import dev.jnorm.norm.RunningStatsNorm;
import dev.jnorm.norm.SwitchableNorm;
import dev.jnorm.norm.SyncBatchNorm;
import dev.jnorm.norm.TracksRunningStatistics;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.TestData;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * One norm configuration on one input shape, run forward and backward on any backend from the same
 * float32-rounded data: the results by name (output, saved statistics, running statistics, input
 * and parameter gradients), as doubles, for comparing a backend with the CPU reference.
 *
 * @param offset the input is a view starting this many elements into a larger tensor (misaligned
 *               when not a multiple of 4)
 * @param parameterSeed the first seed of the parameters' random values
 */
record NormCase(String name, Shape shape, boolean training, int offset,
                BiFunction<Backend, DType, NormLayer<?>> make, Integer weightDim, long parameterSeed) {

    static NormCase of(String name, Shape shape, boolean training, BiFunction<Backend, DType, NormLayer<?>> make) {
        return new NormCase(name, shape, training, 0, make, null, 1000);
    }

    static NormCase weight(String name, Shape shape, Integer dim) {
        return new NormCase(name, shape, true, 0, null, dim, 1000);
    }

    NormCase misaligned(int elements) {
        return new NormCase(name + " (input at offset " + elements + ")", shape, training, elements, make, weightDim,
                parameterSeed);
    }

    /** The same case with other random parameter values. */
    NormCase parameters(long seed) {
        return new NormCase(name + " (parameters of seed " + seed + ")", shape, training, offset, make, weightDim,
                seed);
    }

    @Override
    public String toString() {
        return name + " " + shape + (make == null ? "" : training ? " train" : " eval");
    }

    /** Values rounded to float32, so that both backends start from identical numbers. */
    static double[] data(long seed, int n, double scale, double shift) {
        double[] v = TestData.randn(seed, n);
        for (int i = 0; i < n; i++) {
            v[i] = (float) (v[i] * scale + shift);
        }
        return v;
    }

    Map<String, double[]> run(Backend backend, DType dtype) {
        return make == null ? runWeightNorm(backend, dtype) : runLayer(backend, dtype);
    }

    private Map<String, double[]> runLayer(Backend backend, DType dtype) {
        Map<String, double[]> out = new LinkedHashMap<>();
        Map<String, double[]> initial = new LinkedHashMap<>();
        int n = (int) shape.numel();
        try (NormLayer<?> layer = make.apply(backend, dtype);
             Tensor storage = backend.allocate(Shape.of(n + offset), dtype);
             Tensor dy = backend.allocate(shape, dtype)) {
            long seed = parameterSeed;
            for (Parameter p : layer.parameters()) {
                boolean logits = p.name().endsWith("_weight");
                double[] values = p.name().equals("rho") ? TestData.uniform(seed++, (int) p.value().numel(), 0.1, 0.9)
                        : data(seed++, (int) p.value().numel(), logits ? 1.0 : 0.7, p.name().equals("weight") ? 1 : 0);
                p.value().copyFrom(values);
                // gradients accumulate (until zeroGrad): start them from values, not zeros, and report
                // what the backward added, so that a kernel that overwrites them instead fails (values
                // of ~1e-3, small beside the gradients: float32's rounding of the sum stays below the bounds)
                double[] start = data(500 + seed, (int) p.value().numel(), 1e-3, 0); // apart from the values' seeds
                p.grad().copyFrom(start);
                initial.put(p.name(), start);
            }
            if (layer instanceof RunningStatsNorm<?> r && r.runningMean() != null) {
                r.runningMean().copyFrom(data(seed++, (int) r.runningMean().numel(), 0.5, 0));
                r.runningVar().copyFrom(TestData.uniform(seed++, (int) r.runningVar().numel(), 0.5, 1.5));
            }
            layer.setTraining(training);
            Tensor x = storage.view(offset, shape);
            x.copyFrom(data(1, n, 2.0, 0.5));
            dy.copyFrom(data(2, n, 1.0, 0));
            try (Tensor y = layer.forward(x); Tensor dx = layer.backward(dy)) {
                out.put("output", y.toDoubleArray());
                saved(layer.lastForward(), out);
                out.put("grad_input", dx.toDoubleArray());
            }
            for (Parameter p : layer.parameters()) {
                double[] grad = p.grad().toDoubleArray();
                double[] start = initial.get(p.name());
                for (int i = 0; i < grad.length; i++) {
                    grad[i] -= start[i];
                }
                out.put("grad_" + p.name(), grad);
            }
            if (layer instanceof TracksRunningStatistics r && r.runningMean() != null) {
                out.put("running_mean", r.runningMean().toDoubleArray());
                if (r.keepsVariance()) {
                    out.put("running_var", r.runningVar().toDoubleArray());
                }
            }
        }
        return out;
    }

    /** Every statistic the forward saved (the mean and rstd, Batch Renormalization's r and d, ...). */
    private static void saved(ForwardResult forward, Map<String, double[]> out) {
        forward.savedStatistics().forEach((name, t) -> out.put("saved_" + name, t.toDoubleArray()));
    }

    private Map<String, double[]> runWeightNorm(Backend backend, DType dtype) {
        Map<String, double[]> out = new LinkedHashMap<>();
        int n = (int) shape.numel();
        try (Tensor v = backend.allocate(shape, dtype); Tensor dw = backend.allocate(shape, dtype)) {
            v.copyFrom(data(3, n, 1.0, 0.2));
            dw.copyFrom(data(4, n, 1.0, 0));
            try (WeightNorm wn = (weightDim == null ? WeightNorm.builder().wholeTensor() : WeightNorm.builder().dim(weightDim)).build(v)) {
                wn.g().value().copyFrom(data(5, (int) wn.g().value().numel(), 1.0, 1));
                try (Tensor w = wn.forward()) {
                    out.put("output", w.toDoubleArray());
                    out.put("saved_norm", wn.lastForward().norm().toDoubleArray());
                    wn.backward(dw);
                }
                out.put("grad_v", wn.v().grad().toDoubleArray());
                out.put("grad_g", wn.g().grad().toDoubleArray());
            }
        }
        return out;
    }

    // ---- the layers, by name ----

    static BiFunction<Backend, DType, NormLayer<?>> batch(long c) {
        return (b, t) -> BatchNorm.builder(c).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> renorm(long c) {
        return (b, t) -> BatchRenorm.builder(c, 1.2, 0.1).dtype(t).build(b); // bounds that bind on these data
    }

    static BiFunction<Backend, DType, NormLayer<?>> ghost(long c, long virtualBatchSize) {
        return (b, t) -> GhostBatchNorm.builder(c, virtualBatchSize).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> meanOnly(long c) {
        return (b, t) -> MeanOnlyBatchNorm.builder(c).dtype(t).build(b);
    }

    /** SyncBatchNorm on a group of one rank: its own kernels (the rank merge and sums), BatchNorm's results. */
    static BiFunction<Backend, DType, NormLayer<?>> sync(long c) {
        return (b, t) -> SyncBatchNorm.builder(c, InProcessReducer.group(1).get(0)).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> instance(long c, boolean affine, boolean track) {
        return (b, t) -> InstanceNorm.builder(c).affine(affine).trackRunningStats(track).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> group(long groups, long c) {
        return (b, t) -> GroupNorm.builder(groups, c).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> layer(long... normalized) {
        return (b, t) -> LayerNorm.builder(normalized).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> rms(long... normalized) {
        return (b, t) -> RMSNorm.builder(normalized).eps(1e-6).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> batchInstance(long c) {
        return (b, t) -> BatchInstanceNorm.builder(c).dtype(t).build(b);
    }

    static BiFunction<Backend, DType, NormLayer<?>> switchable(long c) {
        return (b, t) -> SwitchableNorm.builder(c).dtype(t).build(b);
    }
}
