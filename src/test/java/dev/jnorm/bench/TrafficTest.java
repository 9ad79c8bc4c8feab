package dev.jnorm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
    void weightNormBackwardAlsoReadsTheGradientItAddsTo() {
        Shape s = Shape.of(512, 512, 3, 3);
        assertEquals(4 * 4 * s.numel(), of("weight", "backward", "train", s, 0).minimalBytes());
    }
}
