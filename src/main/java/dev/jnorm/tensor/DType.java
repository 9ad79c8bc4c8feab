package dev.jnorm.tensor;

/** Element types a {@link Tensor} can hold. */
public enum DType {
    /** IEEE 754 single precision: the GPU's storage type and the layers' default. */
    FLOAT32("float32", 4, "<f4", Math.ulp(1.0f)),
    /** IEEE 754 double precision: the CPU reference's. */
    FLOAT64("float64", 8, "<f8", Math.ulp(1.0));

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
     * @return 4 or 8
     */
    public int bytes() {
        return bytes;
    }

    /**
     * NumPy's little-endian type string, {@code <f4} or {@code <f8}.
     *
     * @return the type string
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
        return this == FLOAT32 ? (float) value : value;
    }

    @Override
    public String toString() {
        return label;
    }
}
