package dev.jnorm.backend.cuda.internal;

/**
 * The kernels of {@code cuda-kernels/}, each with the file (PTX module) it lives in. The names are
 * the {@code extern "C"} entry points.
 */
public enum Kernel {
    SEGMENTS_WELFORD_PARTIAL("stats"),
    COLUMNS_WELFORD_PARTIAL("stats"),
    WELFORD_MERGE_PARTIALS("stats"),
    WELFORD_FINALIZE("stats"),
    SEGMENTS_SUMS_PARTIAL("stats"),
    COLUMNS_SUMS_PARTIAL("stats"),
    SUMS_MERGE_PARTIALS("stats"),
    SUMS_FINALIZE("stats"),
    ROWS_FORWARD_WARP("rows"),
    ROWS_FORWARD_WARP_VEC("rows"),
    ROWS_FORWARD_BLOCK("rows", true),
    ROWS_FORWARD_BLOCK_VEC("rows", true),
    ROWS_APPLY("rows"),
    ROWS_BACKWARD_WARP("rows"),
    ROWS_BACKWARD_BLOCK("rows"),
    ROWS_PARAM_GRADS_PARTIAL("rows"),
    NC_APPLY("channels"),
    NC_APPLY_VEC("channels"),
    NC_APPLY_BACKWARD("channels"),
    NC_APPLY_BACKWARD_VEC("channels"),
    CHANNEL_COEFFICIENTS("channels"),
    CHANNEL_BACKWARD_COEFFICIENTS("channels"),
    GROUP_BACKWARD_COEFFICIENTS("channels"),
    NC_PARAM_GRADS("channels"),
    INSTANCE_RUNNING_UPDATE("channels"),
    BIN_FORWARD_COEFFICIENTS("composite"),
    BIN_BACKWARD_COEFFICIENTS("composite"),
    SN_MERGE_STATS("composite"),
    RUNNING_UPDATE("composite"),
    SN_MIX("composite"),
    SN_BACKWARD_MIXED("composite"),
    SN_BACKWARD_SHARE("composite"),
    SN_BACKWARD_COEFFICIENTS("composite"),
    SN_LOGIT_GRADS("composite"),
    WEIGHT_NORM_FORWARD("weight"),
    WEIGHT_NORM_BACKWARD("weight"),
    IM2COL("nn"),
    COL2IM("nn"),
    ADD_BIAS("nn"),
    BIAS_GRAD("nn"),
    RELU("nn"),
    RELU_BACKWARD("nn"),
    MAX_POOL("nn"),
    MAX_POOL_BACKWARD("nn"),
    AVERAGE_POOL("nn"),
    AVERAGE_POOL_BACKWARD("nn"),
    SOFTMAX_CROSS_ENTROPY("nn"),
    SGD_STEP("nn"),
    CLAMP_VALUES("nn"),
    GEMM_FALLBACK("nn");

    private final String module;
    private final boolean dynamicShared;

    Kernel(String module) {
        this(module, false);
    }

    Kernel(String module, boolean dynamicShared) {
        this.module = module;
        this.dynamicShared = dynamicShared;
    }

    /** The C name of the kernel. */
    public String entry() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The PTX module, {@code <module>.ptx} under {@code dev/jnorm/kernels/}, built from {@code cuda-kernels/<module>.cu}. */
    public String module() {
        return module;
    }

    /** True when launches may ask for more dynamic shared memory than the default 48 KiB. */
    public boolean dynamicShared() {
        return dynamicShared;
    }
}
