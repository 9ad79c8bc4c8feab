package dev.jnorm.backend;

import dev.jnorm.tensor.Tensor;

/**
 * The operations of the small training stack around the norms ({@code dev.jnorm.nn}): enough for
 * a convolutional network trained with SGD. Matrices are row-major; tensors may be views. As with
 * the norm operations, arguments arrive validated, outputs are overwritten and gradients of
 * parameters are accumulated.
 */
public interface NetworkOps {

    /** {@code c = alpha·op(a)·op(b) + beta·c}, with op(a) m×k, op(b) k×n and c m×n, all row-major. */
    void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, Tensor a, Tensor b,
              float beta, Tensor c);

    /** {@code y = conv(x, weight) (+ bias)}, by im2col and GEMM. {@code bias} may be null. */
    void convForward(Tensor x, Tensor weight, Tensor bias, Tensor y, ConvGeometry g);

    /**
     * The gradients of {@link #convForward}: {@code dx} overwritten, {@code gradWeight} and
     * {@code gradBias} (which may be null) added to.
     */
    void convBackward(Tensor x, Tensor weight, Tensor dy, Tensor dx, Tensor gradWeight, Tensor gradBias,
                      ConvGeometry g);

    /** {@code y[n, c, s] += bias[c]}. */
    void addBias(Tensor y, NcsLayout layout, Tensor bias);

    /** {@code grad[c] += Σ dy[n, c, s]} over n and s. */
    void biasGrad(Tensor dy, NcsLayout layout, Tensor grad);

    /** {@code y = max(x, 0)}. */
    void relu(Tensor x, Tensor y);

    /** {@code dx = dy} where {@code y > 0}, else 0. */
    void reluBackward(Tensor y, Tensor dy, Tensor dx);

    /**
     * 2×2 max pooling with stride 2 of {@code x [N·C, H, W]} into {@code y [N·C, H/2, W/2]} (rounded
     * down); {@code window} records which of the four values (0 to 3, row-major) was the maximum.
     */
    void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window);

    /** Gradient of {@link #maxPool}: each dy goes to its window's maximum, the rest of dx is 0. */
    void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx);

    /** {@code y[n, c] = mean over s of x[n, c, s]}. */
    void averagePool(Tensor x, NcsLayout layout, Tensor y);

    /** {@code dx[n, c, s] = dy[n, c] / S}. */
    void averagePoolBackward(Tensor dy, NcsLayout layout, Tensor dx);

    /**
     * The mean cross-entropy of {@code softmax(logits [B, K])} against {@code labels [B]} (class
     * indices held as floats); writes {@code dlogits = (softmax − onehot)/B} and returns the loss.
     */
    double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits);

    /**
     * One SGD step as PyTorch's: {@code d = grad + weightDecay·param}, {@code velocity = momentum·velocity + d},
     * {@code param −= lr·velocity}.
     */
    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    /** In place, {@code t = min(max(t, lo), hi)}; NaN stays NaN. */
    void clamp(Tensor t, float lo, float hi);
}
