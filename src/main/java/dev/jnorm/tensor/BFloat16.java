package dev.jnorm.tensor;

/**
 * bfloat16 ({@link DType#BFLOAT16}): float32's 1 sign and 8 exponent bits with 7 fraction bits, as
 * 16-bit patterns in a {@code short}. Conversion from double rounds once, to nearest with ties to
 * even, straight from the double; ±infinity, NaN, signed zeros and subnormals survive the round
 * trip.
 */
public final class BFloat16 {
    private static final int EXPONENT_BIAS = 127;
    private static final int FRACTION_BITS = 7;

    private BFloat16() {
    }

    /**
     * The bfloat16 nearest {@code value} (ties to even).
     *
     * @param value a value
     * @return its bit pattern
     */
    public static short fromDouble(double value) {
        return (short) Binary.round(value, EXPONENT_BIAS, FRACTION_BITS);
    }

    /**
     * The value of a bfloat16, exactly.
     *
     * @param bits a bit pattern
     * @return its value
     */
    public static double toDouble(short bits) {
        return Binary.value(bits & 0xffff, EXPONENT_BIAS, FRACTION_BITS);
    }
}
