package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import dev.jnorm.backend.cuda.internal.EmulatedDevice.Geometry;
import dev.jnorm.norm.NormKind;
import dev.jnorm.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The byte side of the roofline without a GPU: every benchmark case of the emulated suites (which
 * take every kernel path on an H200's geometry), in float32, float16 and bfloat16 storage, moves,
 * as the emulator's traffic counter counts it with parameters and scratch, at most 1.05× its floor
 * bytes (the minimal bytes where the group fits on chip), with no exceptions. (The 16-bit cases are
 * the hard ones: fp32 partials weigh twice as much against 16-bit rows; LayerNorm's and RMSNorm's
 * fused backward adds its blocks' column sums in thread-block clusters on the H200 to stay under.)
 */
@Tag("emulator")
class EmulatedTrafficTest {
    @Test
    void everyCaseInEveryDtypeMovesAtMostItsFloorBytes() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        List<String> over = new ArrayList<>();
        StringBuilder table = new StringBuilder();
        try (CudaBackend cuda = new CudaBackend(new EmulatedDevice(Geometry.H200))) {
            Benchmark benchmark = new Benchmark(cuda, Stopwatch.host(), 0, 1, cuda.info().sharedMemoryPerBlock());
            // the built-ins, not the test tree's CPU-only norm
            for (BenchCase c : Suites.cases(List.of(NormKind.values()), Suites.SUITES, Suites.Scale.EMULATED,
                    List.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16))) {
                BenchResult r = benchmark.run(c, 1);
                double ratio = (double) r.movedBytes().orElseThrow() / r.traffic().floorBytes();
                table.append(String.format("%-50s %.3f%n", c.key(), ratio));
                if (ratio > ByteTable.FLOOR_SLACK) {
                    over.add(String.format("%s moved %.3f× its floor, allowed %.2f×", c.key(), ratio, ByteTable.FLOOR_SLACK));
                }
            }
        }
        System.out.print("EmulatedTrafficTest: moved/floor bytes on the H200 geometry\n" + table);
        assertEquals(List.of(), over);
    }
}
