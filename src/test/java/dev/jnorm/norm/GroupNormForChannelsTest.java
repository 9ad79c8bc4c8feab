package dev.jnorm.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jnorm.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** {@link GroupNorm#forChannels}: the largest divisor of C that is at most 32, as seed 001's ConvGNBlock takes. */
class GroupNormForChannelsTest {

    @Test
    void takesTheLargestDivisorAtMost32() {
        long[][] cases = {{64, 32}, {32, 32}, {256, 32}, {48, 24}, {96, 32}, {40, 20}, {5, 5}, {1, 1}, {37, 1},
            {66, 22}, {100, 25}};
        for (long[] c : cases) {
            try (GroupNorm gn = GroupNorm.forChannels(c[0]).build(new CpuBackend())) {
                assertEquals(c[1], gn.numGroups(), "C = " + c[0]);
                assertEquals(c[0], gn.numChannels());
            }
        }
    }

    @Test
    void refusesNoChannels() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GroupNorm.forChannels(0));
        assertEquals("num_channels must be positive, got 0", e.getMessage());
    }
}
