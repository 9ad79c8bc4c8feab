package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.RowsLayout;
import java.util.Arrays;

/**
 * An affine parameter laid out along rows, so that loops over a row index it by position instead
 * of dividing every element's index: one pattern for elementwise parameters (the parameter itself),
 * or, for per-channel parameters, one pattern per group of C/G channels (row r uses pattern r mod G),
 * each holding every channel's value S times.
 */
public final class RowParameters {
    private final double[][] patterns;
    private final RowsLayout layout;

    private RowParameters(double[][] patterns, RowsLayout layout) {
        this.patterns = patterns;
        this.layout = layout;
    }

    /** The parameter {@code p}, or {@code absent} everywhere when it is null. */
    public static RowParameters of(RowsLayout layout, double[] p, double absent) {
        int length = (int) layout.length();
        if (layout.affine() == RowsLayout.Affine.ELEMENTWISE) {
            double[] row = p != null ? p : filled(length, absent);
            return new RowParameters(new double[][] {row}, layout);
        }
        int spatial = (int) layout.spatial();
        int perRow = length / spatial;
        int groups = (int) layout.channels() / perRow;
        double[][] patterns = new double[groups][length];
        for (int g = 0; g < groups; g++) {
            for (int k = 0; k < perRow; k++) {
                Arrays.fill(patterns[g], k * spatial, (k + 1) * spatial, p != null ? p[g * perRow + k] : absent);
            }
        }
        return new RowParameters(patterns, layout);
    }

    private static double[] filled(int n, double value) {
        double[] a = new double[n];
        Arrays.fill(a, value);
        return a;
    }

    public int patterns() {
        return patterns.length;
    }

    public int pattern(int row) {
        return row % patterns.length;
    }

    /** The parameter of each position of row {@code row}. */
    public double[] row(int row) {
        return patterns[pattern(row)];
    }

    /** Sums per-position values of each pattern onto the parameters they stand for. */
    public double[] fold(double[][] perPosition) {
        if (layout.affine() == RowsLayout.Affine.ELEMENTWISE) {
            return perPosition[0];
        }
        int spatial = (int) layout.spatial();
        int perRow = (int) layout.length() / spatial;
        double[] out = new double[(int) layout.channels()];
        for (int g = 0; g < perPosition.length; g++) {
            for (int j = 0; j < perPosition[g].length; j++) {
                out[g * perRow + j / spatial] += perPosition[g][j];
            }
        }
        return out;
    }
}
