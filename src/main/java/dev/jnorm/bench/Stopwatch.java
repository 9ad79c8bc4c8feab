package dev.jnorm.bench;

import dev.jnorm.backend.cuda.CudaBackend;

/** Times one run of an operation, in microseconds, starting from a cold cache where it can. */
public interface Stopwatch {

    double micros(Runnable operation);

    /** CUDA events around the operation, after overwriting twice the L2 cache. */
    static Stopwatch cuda(CudaBackend backend) {
        return operation -> {
            backend.flushL2();
            return 1000 * backend.timeMillis(operation);
        };
    }

    /** The wall clock, for the CPU backend. */
    static Stopwatch host() {
        return operation -> {
            long start = System.nanoTime();
            operation.run();
            return (System.nanoTime() - start) / 1e3;
        };
    }
}
