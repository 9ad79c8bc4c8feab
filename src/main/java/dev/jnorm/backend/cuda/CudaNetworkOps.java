package dev.jnorm.backend.cuda;

import dev.jnorm.backend.cuda.internal.GpuDevice;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.Kernel;
import static dev.jnorm.backend.cuda.CudaBackend.BLOCK;
import static dev.jnorm.backend.cuda.CudaBackend.ceilDiv;

import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The training stack's operations on the GPU: the kernels of {@code cuda-kernels/nn.cu}, and GEMM
 * on cuBLAS (or {@code gemm_fallback} where cuBLAS is missing). Serialized with the backend.
 */
final class CudaNetworkOps implements NetworkOps {
    private static final int TILE = 16;

    private final CudaBackend backend;
    private final GpuDevice device;

    CudaNetworkOps(CudaBackend backend, GpuDevice device) {
        this.backend = backend;
        this.device = device;
    }

    private void run(String operation, Tensor t, Runnable body) {
        synchronized (backend) {
            backend.guard(operation, t.shape(), body);
        }
    }

    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, Tensor a, Tensor b,
                     float beta, Tensor c) {
        run("gemm", c, () -> {
            int lda = transposeA ? m : k;
            int ldb = transposeB ? k : n;
            DevicePointer pa = backend.pointer(a);
            DevicePointer pb = backend.pointer(b);
            DevicePointer pc = backend.pointer(c);
            if (!device.gemm(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc)) {
                long tiles = ceilDiv(m, TILE) * ceilDiv(n, TILE);
                backend.launch(Kernel.GEMM_FALLBACK, backend.itemBlocks(tiles), TILE * TILE, 0, transposeA ? 1 : 0,
                        transposeB ? 1 : 0, m, n, k, alpha, pa, lda, pb, ldb, beta, pc);
            }
        });
    }

    /** Per image: im2col, then GEMM into the image's slice of y (the columns buffer reused in stream order). */
    @Override
    public void convForward(Tensor x, Tensor weight, Tensor bias, Tensor y, ConvGeometry g) {
        Tensor w = weight.reshape(Shape.of(g.out(), g.patch()));
        try (Tensor cols = backend.empty(Shape.of(g.patch(), g.plane()), DType.FLOAT32)) {
            for (int n = 0; n < g.n(); n++) {
                im2col(image(x, n, g.in(), g), g, cols);
                gemm(false, false, g.out(), g.plane(), g.patch(), 1, w, cols, 0, image(y, n, g.out(), g));
            }
        }
        if (bias != null) {
            addBias(y, new NcsLayout(g.n(), g.out(), g.plane()), bias);
        }
    }

    /** Per image: {@code dW += dy·colsᵀ} (in image order), {@code dx = col2im(Wᵀ·dy)}. */
    @Override
    public void convBackward(Tensor x, Tensor weight, Tensor dy, Tensor dx, Tensor gradWeight, Tensor gradBias,
                             ConvGeometry g) {
        Tensor w = weight.reshape(Shape.of(g.out(), g.patch()));
        Tensor dw = gradWeight.reshape(Shape.of(g.out(), g.patch()));
        try (Tensor cols = backend.empty(Shape.of(g.patch(), g.plane()), DType.FLOAT32)) {
            for (int n = 0; n < g.n(); n++) {
                Tensor dyn = image(dy, n, g.out(), g);
                im2col(image(x, n, g.in(), g), g, cols);
                gemm(false, true, g.out(), g.patch(), g.plane(), 1, dyn, cols, 1, dw);
                gemm(true, false, g.patch(), g.plane(), g.out(), 1, w, dyn, 0, cols);
                Tensor dxn = image(dx, n, g.in(), g);
                run("col2im", dxn, () -> backend.launch(Kernel.COL2IM, backend.grid(dxn.numel()), BLOCK, 0,
                        backend.pointer(cols), g.in(), g.height(), g.width(), g.kernel(), g.pad(), backend.pointer(dxn)));
            }
        }
        if (gradBias != null) {
            biasGrad(dy, new NcsLayout(g.n(), g.out(), g.plane()), gradBias);
        }
    }

    private void im2col(Tensor x, ConvGeometry g, Tensor cols) {
        run("im2col", x, () -> backend.launch(Kernel.IM2COL, backend.grid(cols.numel()), BLOCK, 0, backend.pointer(x), g.in(),
                g.height(), g.width(), g.kernel(), g.pad(), backend.pointer(cols)));
    }

    private static Tensor image(Tensor batch, int n, int channels, ConvGeometry g) {
        return batch.view((long) n * channels * g.plane(), Shape.of(channels, g.plane()));
    }

    @Override
    public void addBias(Tensor y, NcsLayout l, Tensor bias) {
        run("add bias", y, () -> backend.launch(Kernel.ADD_BIAS, backend.grid(y.numel()), BLOCK, 0, backend.pointer(y),
                backend.pointer(bias), l.n(), l.c(), l.s()));
    }

    @Override
    public void biasGrad(Tensor dy, NcsLayout l, Tensor grad) {
        run("bias gradient", dy, () -> backend.launch(Kernel.BIAS_GRAD, backend.itemBlocks(l.c()), BLOCK, 0,
                backend.pointer(dy), l.n(), l.c(), l.s(), backend.pointer(grad)));
    }

    @Override
    public void relu(Tensor x, Tensor y) {
        run("relu", x, () -> backend.launch(Kernel.RELU, backend.grid(x.numel()), BLOCK, 0, backend.pointer(x),
                backend.pointer(y), x.numel()));
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        run("relu backward", y, () -> backend.launch(Kernel.RELU_BACKWARD, backend.grid(y.numel()), BLOCK, 0,
                backend.pointer(y), backend.pointer(dy), backend.pointer(dx), y.numel()));
    }

    @Override
    public void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window) {
        run("max pool", x, () -> backend.launch(Kernel.MAX_POOL, backend.grid(y.numel()), BLOCK, 0, backend.pointer(x), planes,
                height, width, backend.pointer(y), backend.pointer(window)));
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx) {
        run("max pool backward", dx, () -> backend.launch(Kernel.MAX_POOL_BACKWARD, backend.grid(dx.numel()), BLOCK, 0,
                backend.pointer(dy), backend.pointer(window), planes, height, width, backend.pointer(dx)));
    }

    @Override
    public void averagePool(Tensor x, NcsLayout l, Tensor y) {
        run("average pool", x, () -> backend.launch(Kernel.AVERAGE_POOL, backend.itemBlocks(l.n() * l.c()), BLOCK, 0,
                backend.pointer(x), l.n() * l.c(), l.s(), backend.pointer(y)));
    }

    @Override
    public void averagePoolBackward(Tensor dy, NcsLayout l, Tensor dx) {
        run("average pool backward", dx, () -> backend.launch(Kernel.AVERAGE_POOL_BACKWARD, backend.grid(dx.numel()), BLOCK,
                0, backend.pointer(dy), l.n() * l.c(), l.s(), backend.pointer(dx)));
    }

    /** The per-sample losses are summed on the host, in float64, in order. */
    @Override
    public double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits) {
        int batch = (int) logits.shape().dim(0);
        int classes = (int) logits.shape().dim(1);
        try (Tensor losses = backend.empty(Shape.of(batch), DType.FLOAT32)) {
            run("softmax cross-entropy", logits, () -> backend.launch(Kernel.SOFTMAX_CROSS_ENTROPY, backend.grid(batch), BLOCK,
                    0, backend.pointer(logits), backend.pointer(labels), batch, classes, backend.pointer(losses),
                    backend.pointer(dlogits)));
            double sum = 0;
            for (float l : losses.toFloatArray()) {
                sum += l;
            }
            return sum / batch;
        }
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        run("sgd step", param, () -> backend.launch(Kernel.SGD_STEP, backend.grid(param.numel()), BLOCK, 0,
                backend.pointer(param), backend.pointer(grad), backend.pointer(velocity), param.numel(), lr, momentum,
                weightDecay));
    }

    @Override
    public void clamp(Tensor t, float lo, float hi) {
        run("clamp", t, () -> backend.launch(Kernel.CLAMP_VALUES, backend.grid(t.numel()), BLOCK, 0, backend.pointer(t),
                t.numel(), lo, hi));
    }
}
