package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import org.junit.jupiter.api.Test;

class TrafficTest {
    private static final long H100_SHARED = 227 << 10;

    private static Traffic of(String norm, String direction, String mode, Shape shape, long groups) {
        return Traffic.of(new BenchCase(norm, direction, mode, shape, groups, 1), H100_SHARED);
    }

    @Test
    void aGroupThatFitsOnChipHasTheMinimalBytesAsItsFloor() {
        Shape s = Shape.of(8, 640, 32, 32); // groups of 20 channels × 1024 = 80 KiB
        assertEquals(new Traffic(2 * 4 * s.numel(), 2 * 4 * s.numel()), of("group", "forward", "train", s, 32));
        assertEquals(new Traffic(3 * 4 * s.numel(), 3 * 4 * s.numel()), of("group", "backward", "train", s, 32));
    }

    @Test
    void backwardHoldsXAndDySoItsGroupsFitUpToHalfTheSize() {
        Shape s = Shape.of(2, 320, 64, 64); // groups of 10 channels × 4096 = 160 KiB, x and dy 320 KiB
        assertEquals(new Traffic(2 * 4 * s.numel(), 2 * 4 * s.numel()), of("group", "forward", "train", s, 32));
        assertEquals(new Traffic(3 * 4 * s.numel(), 5 * 4 * s.numel()), of("group", "backward", "train", s, 32));
    }

    @Test
    void aGroupTooLargeForChipMustReadTheInputTwice() {
        Shape s = Shape.of(2, 256, 200, 304); // groups of 8 × 60800 values = 1.9 MB
        assertEquals(new Traffic(2 * 4 * s.numel(), 3 * 4 * s.numel()), of("group", "forward", "train", s, 32));
        assertEquals(new Traffic(3 * 4 * s.numel(), 5 * 4 * s.numel()), of("group", "backward", "train", s, 32));
    }

    @Test
    void batchStatisticsAlwaysNeedTwoPassesButEvaluationDoesNot() {
        Shape s = Shape.of(65536, 256);
        assertEquals(3 * 4 * s.numel(), of("batch", "forward", "train", s, 0).floorBytes());
        assertEquals(2 * 4 * s.numel(), of("batch", "forward", "eval", s, 0).floorBytes());
        Shape small = Shape.of(4, 64, 8, 8);
        assertEquals(5 * 4 * small.numel(), of("switchable", "backward", "train", small, 0).floorBytes());
    }

    @Test
    void forwardReadsTheParametersAndBackwardReadsAllButTheBiasesAndReadsAndWritesEveryGradient() {
        Shape s = Shape.of(40, 65536);
        BenchCase forward = new BenchCase("layer", "forward", "train", s, 0, 1, DType.BFLOAT16);
        BenchCase backward = new BenchCase("layer", "backward", "train", s, 0, 1, DType.BFLOAT16);
        long weights = 65536;
        long data = 2 * s.numel(); // bytes of one 16-bit tensor
        assertEquals(new Traffic(2 * data + 4 * 2 * weights, 3 * data + 4 * 2 * weights),
                Traffic.of(forward, H100_SHARED, 2 * weights, weights), "x, y and the float32 weight and bias");
        // 3 data tensors minimal (5 for the floor: these rows do not fit on chip), the weight read, and
        // each of the two gradients read and written: 20 bytes a column
        assertEquals(new Traffic(3 * data + 20 * weights, 5 * data + 20 * weights),
                Traffic.of(backward, H100_SHARED, 2 * weights, weights));
        assertEquals(Traffic.of(backward, H100_SHARED), Traffic.of(backward, H100_SHARED, 0, 0));
        BenchCase weightNorm = new BenchCase("weight", "backward", "train", Shape.of(64, 64), 0, 0);
        assertEquals(Traffic.of(weightNorm, H100_SHARED), Traffic.of(weightNorm, H100_SHARED, 64, 0),
                "a reparameterization's parameters are its data, counted already");
    }

    @Test
    void weightNormBackwardAlsoReadsTheGradientItAddsTo() {
        Shape s = Shape.of(512, 512, 3, 3);
        assertEquals(4 * 4 * s.numel(), of("weight", "backward", "train", s, 0).minimalBytes());
    }
}
