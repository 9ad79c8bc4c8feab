package dev.jnorm.bench;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.MemoryTraffic;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Runs benchmark cases on one backend in their storage dtype: warm-up runs, then {@code runs} timed runs each
 * started from a cold cache, reporting the median (and the fastest).
 */
public final class Benchmark {
    private static final int FILL_CHUNK = 1 << 24;

    private final Backend backend;
    private final Stopwatch stopwatch;
    private final int warmup;
    private final int runs;
    private final long sharedMemoryPerBlock;

    public Benchmark(Backend backend, Stopwatch stopwatch, int warmup, int runs, long sharedMemoryPerBlock) {
        this.backend = backend;
        this.stopwatch = stopwatch;
        this.warmup = warmup;
        this.runs = runs;
        this.sharedMemoryPerBlock = sharedMemoryPerBlock;
    }

    /** Times the case; on the kernel emulator, also counts the global-memory bytes one run moves. */
    public BenchResult run(BenchCase c, double copyTbps) {
        Measured m = c.spec().reparameterizes() ? timeWeightNorm(c) : timeLayer(c);
        double[] micros = m.micros();
        Arrays.sort(micros);
        return new BenchResult(c, micros[micros.length / 2], micros[0],
                Traffic.of(c, sharedMemoryPerBlock, m.parameters(), m.biases()), m.moved().bytes(),
                m.moved().kernels(), runs, copyTbps);
    }

    /**
     * The times of the runs, what one run moved where the device counts it, and the learnable
     * parameter values of the layer (of them biases).
     */
    private record Measured(double[] micros, Moved moved, long parameters, long biases) {
        Measured withParameters(List<Parameter> list) {
            return new Measured(micros, moved, list.stream().mapToLong(p -> p.value().shape().numel()).sum(),
                    list.stream().filter(p -> p.name().equals("bias")).mapToLong(p -> p.value().shape().numel()).sum());
        }
    }

    /** The bytes one run moved and the kernels it launched, where the device counts them. */
    private record Moved(OptionalLong bytes, List<String> kernels) {
        static final Moved UNCOUNTED = new Moved(OptionalLong.empty(), List.of());
    }

    private Measured timeLayer(BenchCase c) {
        try (NormLayer<?> layer = c.spec().build(backend, c.shape(), c.config(), c.dtype());
             Tensor x = pattern(c.shape(), c.dtype(), 1);
             Tensor dy = pattern(c.shape(), c.dtype(), 2)) {
            layer.setTraining(c.training());
            if (c.forward()) {
                return times(() -> layer.forward(x).close()).withParameters(layer.parameters());
            }
            layer.forward(x).close();
            return times(() -> layer.backward(dy, true).close()).withParameters(layer.parameters());
        }
    }

    private Measured timeWeightNorm(BenchCase c) {
        try (Tensor v = pattern(c.shape(), c.dtype(), 1);
             Tensor dw = pattern(c.shape(), c.dtype().parameterType(), 2); // a 16-bit weight's gradient is float32
             WeightNorm wn = WeightNorm.builder().dim(0).build(v)) {
            if (c.forward()) {
                return times(() -> wn.forward().close());
            }
            wn.forward().close();
            return times(() -> wn.backward(dw));
        }
    }

    private Measured times(Runnable operation) {
        for (int i = 0; i < warmup; i++) {
            operation.run();
        }
        double[] micros = new double[runs];
        for (int i = 0; i < runs; i++) {
            micros[i] = stopwatch.micros(operation);
        }
        return new Measured(micros, moved(operation), 0, 0);
    }

    /**
     * The global-memory bytes one run moves, parameters and scratch included, and the kernels it
     * launched, as the kernel emulator counts them.
     */
    private Moved moved(Runnable operation) {
        if (!(backend instanceof CudaBackend cuda) || !cuda.emulated()) {
            return Moved.UNCOUNTED;
        }
        Map<String, MemoryTraffic> before = cuda.trafficByKernel();
        cuda.resetTraffic();
        operation.run();
        List<String> kernels = new ArrayList<>();
        cuda.trafficByKernel().forEach((kernel, traffic) -> {
            if (!traffic.equals(before.get(kernel))) {
                kernels.add(kernel);
            }
        });
        return new Moved(OptionalLong.of(cuda.trafficByOperation().values().stream().mapToLong(MemoryTraffic::total)
                .sum()), kernels);
    }

    /** Values spread over (−2, 2) from a hash of the index, written in chunks (rounded to {@code dtype}). */
    private Tensor pattern(Shape shape, DType dtype, long seed) {
        Tensor t = backend.empty(shape, dtype);
        for (long start = 0; start < shape.numel(); start += FILL_CHUNK) {
            int n = (int) Math.min(FILL_CHUNK, shape.numel() - start);
            float[] values = new float[n];
            for (int j = 0; j < n; j++) {
                long h = (start + j + seed * 0x632BE59BD9B4E019L) * 0x9E3779B97F4A7C15L;
                values[j] = (float) ((h >>> 40) / (double) (1 << 24) * 4 - 2);
            }
            t.view(start, Shape.of(n)).copyFrom(values);
        }
        return t;
    }

    /**
     * The memory bandwidth a plain copy reaches, in TB/s of bytes read plus written: the median of
     * {@code runs} copies of {@code bytes}.
     */
    public static double copyTbps(Backend backend, Stopwatch stopwatch, long bytes, int runs) {
        Shape shape = Shape.of(bytes / 4);
        try (Tensor src = backend.allocate(shape, DType.FLOAT32); Tensor dst = backend.allocate(shape, DType.FLOAT32)) {
            double[] micros = new double[runs];
            backend.copy(src, dst);
            for (int i = 0; i < runs; i++) {
                micros[i] = stopwatch.micros(() -> backend.copy(src, dst));
            }
            Arrays.sort(micros);
            return 2.0 * bytes / (micros[runs / 2] * 1e-6) / 1e12;
        }
    }
}
