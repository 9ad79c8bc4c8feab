package dev.jnorm.backend.cpu.internal;

/**
 * Two-pass statistics in float64 over a group of elements laid out as {@code count} segments of
 * {@code length} contiguous values, segment k starting at {@code start + k·stride}: a row is one
 * segment, a BatchNorm channel is N segments of S values, C·S apart.
 *
 * <p>The first pass sums deviations from the group's first element, so that a constant group has
 * exactly its value as mean and 0 as variance, and a large common offset cancels before summing.
 */
public final class Moments {
    private Moments() {
    }

    public static double mean(double[] x, int start, int length, int count, int stride) {
        long n = (long) length * count;
        if (n == 0) {
            return Double.NaN;
        }
        double shift = x[start];
        double sum = 0;
        for (int k = 0; k < count; k++) {
            int base = start + k * stride;
            for (int i = 0; i < length; i++) {
                sum += x[base + i] - shift;
            }
        }
        return shift + sum / n;
    }

    /** Mean of {@code (x − center)²}: the biased variance about the mean, or the mean square about 0. */
    public static double meanSquare(double[] x, int start, int length, int count, int stride, double center) {
        long n = (long) length * count;
        return n == 0 ? Double.NaN : sumOfSquares(x, start, length, count, stride, center) / n;
    }

    /** Sum of {@code (x − center)²}. */
    public static double sumOfSquares(double[] x, int start, int length, int count, int stride, double center) {
        double sum = 0;
        for (int k = 0; k < count; k++) {
            int base = start + k * stride;
            for (int i = 0; i < length; i++) {
                double d = x[base + i] - center;
                sum += d * d;
            }
        }
        return sum;
    }

    public static double rstd(double var, double eps) {
        return 1.0 / Math.sqrt(var + eps);
    }

    /** {@code 1/sqrt(var + eps)} of each variance. */
    public static double[] rstd(double[] var, double eps) {
        double[] rstd = new double[var.length];
        for (int i = 0; i < var.length; i++) {
            rstd[i] = rstd(var[i], eps);
        }
        return rstd;
    }
}
