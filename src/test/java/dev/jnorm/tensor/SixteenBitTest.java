package dev.jnorm.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * float16 and bfloat16 rounding against NumPy (float16, rounded once from float64) and PyTorch
 * (bfloat16 from float32) on edge values and 3000 random ones: src/test/python/make_sixteen_bit.py.
 */
class SixteenBitTest {
    private static final List<String[]> ROWS = rows();

    private static List<String[]> rows() {
        try {
            return Files.readAllLines(Path.of("src/test/resources/sixteen_bit/roundings.tsv")).stream()
                    .filter(l -> !l.startsWith("#")).map(l -> l.split("\t", -1)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static double value(String hex) {
        return switch (hex) { // Python's float.hex spellings
            case "nan" -> Double.NaN;
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(hex);
        };
    }

    @Test
    void float16RoundsAsNumPyDoesOnceFromDouble() {
        for (String[] r : ROWS) {
            double v = value(r[0]);
            short bits = Float16.fromDouble(v);
            if (Double.isNaN(v)) {
                assertTrue(Double.isNaN(Float16.toDouble(bits)), "NaN stays NaN");
                continue;
            }
            assertEquals(Integer.parseInt(r[1], 16), bits & 0xffff, r[0]);
        }
    }

    @Test
    void bfloat16RoundsAsPyTorchDoesFromFloat32() {
        int checked = 0;
        for (String[] r : ROWS) {
            if (r[2].isEmpty()) {
                continue;
            }
            double v = value(r[0]);
            short bits = BFloat16.fromDouble(v);
            if (Double.isNaN(v)) {
                assertTrue(Double.isNaN(BFloat16.toDouble(bits)), "NaN stays NaN");
                continue;
            }
            assertEquals(Integer.parseInt(r[2], 16), bits & 0xffff, r[0]);
            checked++;
        }
        assertTrue(checked > 3000, "checked " + checked);
    }

    @Test
    void everyPatternSurvivesTheRoundTripExactly() {
        for (int b = 0; b < 1 << 16; b++) {
            for (DType t : List.of(DType.FLOAT16, DType.BFLOAT16)) {
                double v = t.fromBits((short) b);
                short back = t.toBits(v);
                if (Double.isNaN(v)) {
                    assertTrue(Double.isNaN(t.fromBits(back)), t + " NaN " + Integer.toHexString(b));
                } else {
                    assertEquals(b, back & 0xffff, t + " " + Integer.toHexString(b) + " = " + v);
                }
            }
        }
    }

    @Test
    void roundingOnceDiffersFromRoundingThroughFloat() {
        double v = 1 + 0x1p-11 + 0x1p-40; // above the tie between 1 and 1 + 2^-10: up; through float, the tie: even
        assertEquals(0x3c01, Float16.fromDouble(v) & 0xffff);
        assertEquals(0x3c00, Float16.fromDouble((float) v) & 0xffff);
    }

    @Test
    void theLimitsOfEachFormat() {
        assertEquals(65504.0, DType.FLOAT16.round(65519.0));
        assertEquals(Double.POSITIVE_INFINITY, DType.FLOAT16.round(65520.0));
        assertEquals(0x1p-24, DType.FLOAT16.round(0x1p-24));
        assertEquals(0.0, DType.FLOAT16.round(0x1p-25), "the tie below the smallest subnormal goes to even: 0");
        assertEquals(0x1p-133, DType.BFLOAT16.round(0x1p-133), "bfloat16 keeps float32's subnormals");
        assertEquals(Double.POSITIVE_INFINITY, DType.BFLOAT16.round(0x1.ffp127), "rounds past float32's largest");
    }
}
