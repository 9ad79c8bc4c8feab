package dev.jnorm.bench;

/**
 * The DRAM bytes a benchmark must move, the denominator of its bandwidth (float32, parameters and
 * statistics left out as negligible).
 *
 * <p>Minimal: forward reads x and writes y (2 values per element), backward reads x and dy and
 * writes dx (3); WeightNorm's backward also reads the gradient it adds to (4). The floor is what
 * an algorithm must move when a group does not fit on chip and x is read twice: forward 3,
 * backward 5 (a reduction pass, then the elementwise pass). BatchNorm, Batch-Instance and
 * Switchable always need batch statistics before any output, so their floor is always two-pass.
 */
public record Traffic(long minimalBytes, long floorBytes) {

    public static Traffic of(BenchCase c, long sharedMemoryPerBlock) {
        long values = c.shape().numel();
        boolean weight = c.norm().equals("weight");
        long minimal = values * 4 * (c.forward() ? 2 : weight ? 4 : 3);
        boolean evalBatch = c.norm().equals("batch") && c.mode().equals("eval");
        boolean needsBatchStatistics = !evalBatch
                && (c.norm().equals("batch") || c.norm().equals("batch-instance") || c.norm().equals("switchable"));
        boolean fits = !needsBatchStatistics && (weight || evalBatch || 4 * c.groupSize() <= sharedMemoryPerBlock);
        long floor = fits ? minimal : values * 4 * (c.forward() ? 3 : 5);
        return new Traffic(minimal, floor);
    }
}
