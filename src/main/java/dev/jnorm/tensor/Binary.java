package dev.jnorm.tensor;

/** Rounding to, and reading, a 16-bit binary floating-point format given its bias and fraction bits. */
final class Binary {
    private Binary() {
    }

    /**
     * The pattern nearest {@code value}, ties to even: the magnitude scaled by a power of two (exact in
     * double) so that the format's unit in the last place is 1, then {@link Math#rint}; a carry out of
     * the fraction lands in the exponent by itself, and past the largest exponent on infinity.
     */
    static int round(double value, int bias, int fractionBits) {
        int sign = (Double.doubleToRawLongBits(value) < 0 ? 1 : 0) << 15;
        int exponentMask = (1 << (15 - fractionBits)) - 1;
        int infinity = exponentMask << fractionBits;
        if (Double.isNaN(value)) {
            return sign | infinity | 1 << (fractionBits - 1); // a quiet NaN
        }
        double magnitude = Math.abs(value);
        if (Double.isInfinite(magnitude)) {
            return sign | infinity;
        }
        int minExponent = 1 - bias;
        int exponent = Math.max(Math.getExponent(magnitude), minExponent); // subnormals share the least
        double units = Math.rint(Math.scalb(magnitude, fractionBits - exponent));
        long bits = (long) units + ((long) (exponent - minExponent) << fractionBits);
        // units in [2^f, 2^(f+1)] for normals carries the implicit bit into the exponent field; below
        // 2^f (subnormal or zero) the exponent field stays 0.
        return (int) Math.min(bits, infinity) | sign;
    }

    /** The exact value of a pattern. */
    static double value(int bits, int bias, int fractionBits) {
        int exponentMask = (1 << (15 - fractionBits)) - 1;
        int fraction = bits & ((1 << fractionBits) - 1);
        int exponent = (bits >>> fractionBits) & exponentMask;
        double sign = (bits & 0x8000) != 0 ? -1 : 1;
        if (exponent == exponentMask) {
            return fraction == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        if (exponent == 0) {
            return sign * Math.scalb((double) fraction, 1 - bias - fractionBits);
        }
        return sign * Math.scalb((double) (fraction | 1 << fractionBits), exponent - bias - fractionBits);
    }
}
