package dev.jnorm.bench;

import dev.jnorm.norm.NormSpec;

/**
 * The DRAM bytes a benchmark must move, the denominator of its bandwidth, in the case's storage
 * dtype (4 bytes a value for float32, 2 for float16 and bfloat16), with its learnable parameters in
 * float32 (statistics left out as negligible: a few values per group). Whether a group fits on chip
 * is counted as the kernels cache it, in float32.
 *
 * <p>Minimal: forward reads x and writes y (2 values per element), backward reads x and dy and
 * writes dx (3); a reparameterization's backward also reads the gradient it adds to (4). Forward
 * also reads every parameter; backward reads every parameter but the biases (which dx does not
 * depend on) and reads and writes every parameter's gradient (gradients accumulate). On a few long
 * rows in 16-bit storage those are not negligible: LayerNorm's backward of [40, 65536] moves 20
 * bytes of parameters and gradients a column against 400 of data. The floor
 * is what an algorithm must move when a group does not fit on chip and x is read twice: forward 3,
 * backward 5 (a reduction pass, then the elementwise pass). A group fits on chip when the values a
 * pass must hold fit in one block's shared memory: x forward, x and dy backward. Norms that need the whole batch's
 * statistics before any output (BatchNorm in training, Batch-Instance, Switchable) always have the
 * two-pass floor.
 */
public record Traffic(long minimalBytes, long floorBytes) {

    /** The bytes of a case whose norm has no learnable parameters, or whose parameters are not counted. */
    public static Traffic of(BenchCase c, long sharedMemoryPerBlock) {
        return of(c, sharedMemoryPerBlock, 0, 0);
    }

    /**
     * The bytes of a case whose norm has {@code parameters} learnable parameter values, {@code biases}
     * of them biases (a reparameterization's parameters are its data, already counted).
     */
    public static Traffic of(BenchCase c, long sharedMemoryPerBlock, long parameters, long biases) {
        NormSpec spec = c.spec();
        long values = c.shape().numel();
        boolean reparameterizes = spec.reparameterizes();
        // per value of the data, as stored; a 16-bit weight is reparameterized as float32 master weights
        long bytes = (reparameterizes ? c.dtype().parameterType() : c.dtype()).bytes();
        long minimal = values * bytes * (c.forward() ? 2 : reparameterizes ? 4 : 3);
        boolean fits = !spec.batchStatisticsFirst(c.training()) && (reparameterizes || spec.elementwise(c.training())
                || (c.forward() ? 4 : 8) * c.groupSize() <= sharedMemoryPerBlock);
        long floor = fits ? minimal : values * bytes * (c.forward() ? 3 : 5);
        long p = reparameterizes ? 0 : c.dtype().parameterType().bytes()
                * (c.forward() ? parameters : parameters - biases + 2 * parameters);
        return new Traffic(minimal + p, floor + p);
    }
}
