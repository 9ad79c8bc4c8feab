package dev.jnorm.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jnorm.tensor.Tensor;

/** Elementwise comparisons: {@code |actual − expected| ≤ atol + rtol·|expected|}, NaN only where NaN is expected. */
public final class Close {
    private Close() {
    }

    public static void assertClose(double[] expected, double[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e) || Double.isNaN(a)) {
                if (Double.isNaN(e) != Double.isNaN(a)) {
                    fail(what + ": at " + i + " expected " + e + " got " + a);
                }
                continue;
            }
            double excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
            if (excess > worst) {
                worst = excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            fail(what + ": at " + worstAt + " expected " + expected[worstAt] + " got " + actual[worstAt]
                    + " (|diff| " + Math.abs(actual[worstAt] - expected[worstAt]) + " > atol " + atol + " + rtol " + rtol
                    + "·|expected|)");
        }
    }

    public static void assertClose(Tensor expected, Tensor actual, double atol, double rtol, String what) {
        assertEquals(expected.shape(), actual.shape(), what + ": shape");
        assertClose(expected.toDoubleArray(), actual.toDoubleArray(), atol, rtol, what);
    }
}
