package dev.jnorm.backend;

import dev.jnorm.tensor.Tensor;

/**
 * The operations of the small training stack around the norms ({@code dev.jnorm.nn}): enough for
 * a convolutional network trained with SGD. Matrices are row-major; tensors may be views. As with
 * the norm operations, arguments arrive validated, outputs are overwritten and gradients of
 * parameters are accumulated.
 */
public interface NetworkOps {

    /**
     * {@code c = alpha·op(a)·op(b) + beta·c}, with op(a) m×k, op(b) k×n and c m×n, all row-major.
     *
     * @param transposeA whether op(a) is aᵀ ({@code a} stored k×m)
     * @param transposeB whether op(b) is bᵀ ({@code b} stored n×k)
     * @param m rows of op(a) and c
     * @param n columns of op(b) and c
     * @param k columns of op(a), rows of op(b)
     * @param alpha the product's scale
     * @param a the left matrix
     * @param b the right matrix
     * @param beta the scale of c's old values (0: c is not read)
     * @param c the result
     */
    void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, Tensor a, Tensor b,
              float beta, Tensor c);

    /**
     * {@code y = conv(x, weight) (+ bias)}, by im2col and GEMM.
     *
     * @param x the input {@code [N, C, H, W]}
     * @param weight the filters {@code [O, C, k, k]}
     * @param bias {@code [O]}, or null for none
     * @param y the output {@code [N, O, H', W']}
     * @param g the convolution's sizes
     */
    void convForward(Tensor x, Tensor weight, Tensor bias, Tensor y, ConvGeometry g);

    /**
     * The gradients of {@link #convForward}: {@code dx} overwritten, {@code gradWeight} and
     * {@code gradBias} added to.
     *
     * @param x the forward's input
     * @param weight the forward's filters
     * @param dy the gradient of the output
     * @param dx the gradient of the input, written
     * @param gradWeight the filters' gradient, accumulated
     * @param gradBias the bias's gradient, accumulated; null without a bias
     * @param g the convolution's sizes
     */
    void convBackward(Tensor x, Tensor weight, Tensor dy, Tensor dx, Tensor gradWeight, Tensor gradBias,
                      ConvGeometry g);

    /**
     * {@code y[n, c, s] += bias[c]}.
     *
     * @param y the tensor added to
     * @param layout its [N, C, S] view
     * @param bias {@code [C]}
     */
    void addBias(Tensor y, NcsLayout layout, Tensor bias);

    /**
     * {@code grad[c] += Σ dy[n, c, s]} over n and s.
     *
     * @param dy the output's gradient
     * @param layout its [N, C, S] view
     * @param grad the bias's gradient {@code [C]}, accumulated
     */
    void biasGrad(Tensor dy, NcsLayout layout, Tensor grad);

    /**
     * {@code y = max(x, 0)}.
     *
     * @param x the input
     * @param y the output, of x's shape
     */
    void relu(Tensor x, Tensor y);

    /**
     * {@code dx = dy} where {@code y > 0}, else 0.
     *
     * @param y the forward's output
     * @param dy its gradient
     * @param dx the input's gradient, written
     */
    void reluBackward(Tensor y, Tensor dy, Tensor dx);

    /**
     * 2×2 max pooling with stride 2 of {@code x [N·C, H, W]} into {@code y [N·C, H/2, W/2]} (rounded
     * down); {@code window} records which of the four values (0 to 3, row-major) was the maximum.
     *
     * @param x the input
     * @param planes N·C
     * @param height H
     * @param width W
     * @param y the output
     * @param window the maximum's position in each window, of y's size
     */
    void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window);

    /**
     * Gradient of {@link #maxPool}: each dy goes to its window's maximum, the rest of dx is 0.
     *
     * @param dy the output's gradient
     * @param window what the forward recorded
     * @param planes N·C
     * @param height the input's H
     * @param width the input's W
     * @param dx the input's gradient, written
     */
    void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx);

    /**
     * {@code y[n, c] = mean over s of x[n, c, s]}.
     *
     * @param x the input
     * @param layout its [N, C, S] view
     * @param y the output {@code [N, C]}
     */
    void averagePool(Tensor x, NcsLayout layout, Tensor y);

    /**
     * {@code dx[n, c, s] = dy[n, c] / S}.
     *
     * @param dy the output's gradient {@code [N, C]}
     * @param layout the input's [N, C, S] view
     * @param dx the input's gradient, written
     */
    void averagePoolBackward(Tensor dy, NcsLayout layout, Tensor dx);

    /**
     * The mean cross-entropy of {@code softmax(logits [B, K])} against {@code labels [B]} (class
     * indices held as floats); writes {@code dlogits = (softmax − onehot)/B} and returns the loss.
     *
     * @param logits the scores {@code [B, K]}
     * @param labels the classes {@code [B]}
     * @param dlogits the loss's gradient by the logits, written
     * @return the mean loss
     */
    double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits);

    /**
     * One SGD step as PyTorch's: {@code d = grad + weightDecay·param}, {@code velocity = momentum·velocity + d},
     * {@code param −= lr·velocity}.
     *
     * @param param the parameter, updated
     * @param grad its gradient
     * @param velocity its momentum buffer, updated
     * @param lr the learning rate
     * @param momentum the momentum
     * @param weightDecay the L2 penalty's factor
     */
    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    /**
     * In place, {@code t = min(max(t, lo), hi)}; NaN stays NaN.
     *
     * @param t the tensor
     * @param lo the lower bound
     * @param hi the upper bound
     */
    void clamp(Tensor t, float lo, float hi);
}
