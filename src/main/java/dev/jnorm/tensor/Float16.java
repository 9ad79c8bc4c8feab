package dev.jnorm.tensor;

/**
 * IEEE 754 binary16 ("half", {@link DType#FLOAT16}): 1 sign bit, 5 exponent bits, 10 fraction bits,
 * as 16-bit patterns in a {@code short}. Conversion from double rounds once, to nearest with ties to
 * even, straight from the double (never through float, which would round twice); ±infinity, NaN,
 * signed zeros and subnormals survive the round trip.
 */
public final class Float16 {
    private static final int EXPONENT_BIAS = 15;
    private static final int FRACTION_BITS = 10;

    private Float16() {
    }

    /**
     * The half nearest {@code value} (ties to even); values from 65520 up round to infinity.
     *
     * @param value a value
     * @return its bit pattern
     */
    public static short fromDouble(double value) {
        return (short) Binary.round(value, EXPONENT_BIAS, FRACTION_BITS);
    }

    /**
     * The value of a half, exactly.
     *
     * @param bits a bit pattern
     * @return its value
     */
    public static double toDouble(short bits) {
        return Binary.value(bits & 0xffff, EXPONENT_BIAS, FRACTION_BITS);
    }
}
