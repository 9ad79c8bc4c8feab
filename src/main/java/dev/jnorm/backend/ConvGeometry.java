package dev.jnorm.backend;

/**
 * A k×k convolution with stride 1 and "same" zero padding (k odd, padding k/2): input
 * {@code [n, in, height, width]}, weight {@code [out, in, k, k]}, output {@code [n, out, height, width]}.
 */
public record ConvGeometry(int n, int in, int out, int height, int width, int kernel) {

    /**
     * The padding on each side, (k − 1)/2 for a "same" convolution.
     *
     * @return the padding
     */
    public int pad() {
        return kernel / 2;
    }

    /**
     * The output's spatial size, H'·W'.
     *
     * @return the values per output plane
     */
    public int plane() {
        return height * width;
    }

    /**
     * Rows of the im2col matrix: one per (input channel, kernel position).
     *
     * @return C·k·k
     */
    public int patch() {
        return in * kernel * kernel;
    }
}
