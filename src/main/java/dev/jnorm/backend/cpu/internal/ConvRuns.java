package dev.jnorm.backend.cpu.internal;

import dev.jnorm.backend.ConvGeometry;

/**
 * The geometry of one image's columns (im2col) for a stride-1 "same" convolution: row (c, ki, kj)
 * of the columns is channel c's plane shifted by (ki − pad, kj − pad), entry (i, j) reading pixel
 * (i + ki − pad, j + kj − pad), zero where that falls outside the plane. In the flattened plane the
 * shift is one offset, so each row is a single run of the plane: entries [lo, hi) read pixels
 * [source, source + hi − lo), the entries before and after it (image rows that read outside the
 * plane) are padding, and so are the entries in the run whose column wraps into a neighbouring
 * image row (the left or right padding). Who copies, adds or zeroes, on which storage, is the
 * caller's.
 */
final class ConvRuns {
    private ConvRuns() {
    }

    /** One row of the columns. */
    @FunctionalInterface
    interface Row {
        /**
         * Row {@code at} (its first entry's index) reads pixels from {@code source} (channel c's plane
         * at c·H·W, shifted) into entries [lo, hi) (none where hi ≤ lo); columns shift by {@code dj}.
         */
        void visit(int at, int lo, int hi, int source, int dj);
    }

    /** Visits every row of the columns of {@code g}'s images, in order. */
    static void forEachRow(ConvGeometry g, Row row) {
        int h = g.height();
        int w = g.width();
        int k = g.kernel();
        int pad = g.pad();
        int plane = h * w;
        for (int c = 0; c < g.in(); c++) {
            for (int ki = 0; ki < k; ki++) {
                for (int kj = 0; kj < k; kj++) {
                    int shift = (ki - pad) * w + kj - pad;
                    int lo = Math.max(Math.max(0, pad - ki) * w, -shift);
                    int hi = Math.min(Math.min(h, h + pad - ki) * w, plane - shift);
                    row.visit(((c * k + ki) * k + kj) * plane, lo, hi, c * plane + lo + shift, kj - pad);
                }
            }
        }
    }

    /**
     * The columns of the image whose first pixel is {@code batch[first]} into {@code cols} (a buffer
     * of {@code g}'s patch × plane values), padding zeroed, on the tensors' own storage.
     */
    static void im2col(HostTensor batch, int first, ConvGeometry g, HostTensor cols) {
        int plane = g.plane();
        forEachRow(g, (at, lo, hi, source, dj) -> {
            if (hi <= lo) { // the row reads only padding
                cols.fillRange(at, plane, 0);
                return;
            }
            cols.fillRange(at, lo, 0);
            cols.copyRange(batch, first + source, at + lo, hi - lo);
            cols.fillRange(at + hi, plane - hi, 0);
            zeroWrapped(cols, at, lo, hi, g.width(), dj);
        });
    }

    /**
     * Zeroes {@code a[base + t]} for each entry t in [lo, hi) of a row whose columns shift by
     * {@code dj} and whose column t mod w reads outside [0, w): the padding a single run takes from
     * the neighbouring image row.
     */
    static void zeroWrapped(float[] a, int base, int lo, int hi, int w, int dj) {
        int first = dj < 0 ? 0 : w - dj; // the wrapped columns are [first, first + |dj|) of each image row
        for (int j = first; j < first + Math.abs(dj); j++) {
            int t = lo / w * w + j;
            for (t = t < lo ? t + w : t; t < hi; t += w) {
                a[base + t] = 0;
            }
        }
    }

    /** As {@link #zeroWrapped(float[], int, int, int, int, int)} in row {@code at} of {@code cols}, of any dtype. */
    static void zeroWrapped(HostTensor cols, int at, int lo, int hi, int w, int dj) {
        if (cols.floatStorage() != null) {
            zeroWrapped(cols.floatStorage(), cols.storageOffset() + at, lo, hi, w, dj);
            return;
        }
        int first = dj < 0 ? 0 : w - dj;
        for (int j = first; j < first + Math.abs(dj); j++) {
            int t = lo / w * w + j;
            for (t = t < lo ? t + w : t; t < hi; t += w) {
                cols.set(at + t, 0);
            }
        }
    }
}
