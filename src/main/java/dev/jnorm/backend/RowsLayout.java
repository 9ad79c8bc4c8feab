package dev.jnorm.backend;

/**
 * A tensor seen as {@code rows} contiguous rows of {@code length} values, one statistic per row:
 * the layout of LayerNorm, InstanceNorm, GroupNorm and RMSNorm in NCHW.
 *
 * <p>The affine parameter of element {@code i} is {@code weight[(i / spatial) % channels]} for
 * {@link Affine#PER_CHANNEL} (InstanceNorm, GroupNorm) and {@code weight[i % length]} for
 * {@link Affine#ELEMENTWISE} (LayerNorm, RMSNorm).
 *
 * @param rows the number of rows, one statistic each
 * @param length the values per row
 * @param affine how an element finds its affine parameter
 * @param channels C: the per-channel parameters' length, or the row length for elementwise ones
 * @param spatial S: the values per channel in a row, 1 for elementwise parameters
 * @param centered true to subtract the row mean (all but RMSNorm, which only divides by the root mean square)
 */
public record RowsLayout(long rows, long length, Affine affine, long channels, long spatial, boolean centered) {

    /** How an element finds its affine parameter. */
    public enum Affine {
        /** {@code weight[(i / spatial) % channels]}: InstanceNorm, GroupNorm. */
        PER_CHANNEL,
        /** {@code weight[i % length]}: LayerNorm, RMSNorm. */
        ELEMENTWISE
    }

    /**
     * InstanceNorm: one row of S values per (n, c).
     *
     * @param x the input's [N, C, S] view
     * @return the layout
     */
    public static RowsLayout instance(NcsLayout x) {
        return new RowsLayout(x.n() * x.c(), x.s(), Affine.PER_CHANNEL, x.c(), x.s(), true);
    }

    /**
     * GroupNorm: one row of (C/G)·S values per (n, g).
     *
     * @param x the input's [N, C, S] view
     * @param groups the number of groups
     * @return the layout
     */
    public static RowsLayout group(NcsLayout x, long groups) {
        return new RowsLayout(x.n() * groups, (x.c() / groups) * x.s(), Affine.PER_CHANNEL, x.c(), x.s(), true);
    }

    /**
     * LayerNorm: one row per leading index over the normalized trailing dims.
     *
     * @param rows the leading indices
     * @param length the normalized values per row
     * @return the layout
     */
    public static RowsLayout layer(long rows, long length) {
        return new RowsLayout(rows, length, Affine.ELEMENTWISE, length, 1, true);
    }

    /**
     * RMSNorm: as LayerNorm, without the mean.
     *
     * @param rows the leading indices
     * @param length the normalized values per row
     * @return the layout
     */
    public static RowsLayout rms(long rows, long length) {
        return new RowsLayout(rows, length, Affine.ELEMENTWISE, length, 1, false);
    }

    /**
     * The number of values.
     *
     * @return rows·length
     */
    public long numel() {
        return rows * length;
    }
}
