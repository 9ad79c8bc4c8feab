package dev.jnorm.tensor;

/** Element types a {@link Tensor} can hold. */
public enum DType {
    /** IEEE 754 single precision: the GPU's storage type and the layers' default. */
    FLOAT32("float32", 4, "<f4", Math.ulp(1.0f)),
    /** IEEE 754 double precision: the CPU reference's. */
    FLOAT64("float64", 8, "<f8", Math.ulp(1.0)),
    /**
     * IEEE 754 half precision, a storage type: statistics, parameters and running buffers of a
     * 16-bit layer are float32 ({@link #parameterType()}).
     */
    FLOAT16("float16", 2, "<f2", 0x1p-10),
    /**
     * bfloat16 (float32's exponent, 7 fraction bits), a storage type as {@link #FLOAT16}. NumPy has
     * no bfloat16: files hold it as float32 values that are bfloat16-representable.
     */
    BFLOAT16("bfloat16", 2, null, 0x1p-7);

    private final String label;
    private final int bytes;
    private final String npyDescr;
    private final double machineEpsilon;

    DType(String label, int bytes, String npyDescr, double machineEpsilon) {
        this.label = label;
        this.bytes = bytes;
        this.npyDescr = npyDescr;
        this.machineEpsilon = machineEpsilon;
    }

    /**
     * Bytes per element.
     *
     * @return 2, 4 or 8
     */
    public int bytes() {
        return bytes;
    }

    /**
     * NumPy's little-endian type string: {@code <f2}, {@code <f4} or {@code <f8}; null for bfloat16,
     * which NumPy lacks.
     *
     * @return the type string, or null
     */
    public String npyDescr() {
        return npyDescr;
    }

    /**
     * The difference between 1 and the next representable value, as {@code torch.finfo(dtype).eps}.
     *
     * @return the machine epsilon
     */
    public double machineEpsilon() {
        return machineEpsilon;
    }

    /**
     * Rounds a value to this type's precision.
     *
     * @param value a value
     * @return the nearest value of this type
     */
    public double round(double value) {
        return switch (this) {
            case FLOAT32 -> (float) value;
            case FLOAT64 -> value;
            case FLOAT16 -> Float16.toDouble(Float16.fromDouble(value));
            case BFLOAT16 -> BFloat16.toDouble(BFloat16.fromDouble(value));
        };
    }

    /**
     * Whether this is a 16-bit storage type.
     *
     * @return true for float16 and bfloat16
     */
    public boolean sixteenBit() {
        return bytes == 2;
    }

    /**
     * The dtype of a layer's parameters, statistics and buffers for inputs of this dtype: float32 for
     * the 16-bit storage types (as PyTorch's autocast, cuDNN and Apex keep them), else this.
     *
     * @return the parameter dtype
     */
    public DType parameterType() {
        return sixteenBit() ? FLOAT32 : this;
    }

    /**
     * The bit pattern of {@code value} rounded to this 16-bit type.
     *
     * @param value a value
     * @return its pattern
     */
    public short toBits(double value) {
        return this == FLOAT16 ? Float16.fromDouble(value) : BFloat16.fromDouble(value);
    }

    /**
     * The value of a bit pattern of this 16-bit type.
     *
     * @param bits a pattern
     * @return its value
     */
    public double fromBits(short bits) {
        return this == FLOAT16 ? Float16.toDouble(bits) : BFloat16.toDouble(bits);
    }

    @Override
    public String toString() {
        return label;
    }
}
