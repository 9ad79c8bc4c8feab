package dev.jnorm.backend.cuda;

import dev.jnorm.backend.ConvGeometry;
import dev.jnorm.backend.NcsLayout;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.backend.cuda.internal.DevicePointer;
import dev.jnorm.backend.cuda.internal.GpuDevice;
import dev.jnorm.backend.cuda.internal.KernelLaunch;
import dev.jnorm.backend.cuda.internal.Kernels;
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
    private final CudaKit kit;
    private final KernelLaunch.Launcher launcher;

    CudaNetworkOps(CudaBackend backend, GpuDevice device, CudaKit kit) {
        this.backend = backend;
        this.device = device;
        this.kit = kit;
        this.launcher = kit.launcher();
    }

    private DevicePointer p(Tensor t) {
        return kit.pointer(t);
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
            if (!device.gemm(transposeA, transposeB, m, n, k, alpha, p(a), lda, p(b), ldb, beta, p(c))) {
                long tiles = CudaKit.ceilDiv(m, TILE) * CudaKit.ceilDiv(n, TILE);
                Kernels.gemmFallback().transA(transposeA ? 1 : 0).transB(transposeB ? 1 : 0).m(m).n(n).k(k)
                        .alpha(alpha).A(p(a)).lda(lda).B(p(b)).ldb(ldb).beta(beta).C(p(c))
                        .launch(launcher, kit.itemBlocks(tiles));
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
                run("col2im", dxn, () -> Kernels.col2im().cols(p(cols)).C(g.in()).H(g.height()).W(g.width())
                        .k(g.kernel()).pad(g.pad()).dx(p(dxn)).launch(launcher, kit.grid(dxn.numel())));
            }
        }
        if (gradBias != null) {
            biasGrad(dy, new NcsLayout(g.n(), g.out(), g.plane()), gradBias);
        }
    }

    private void im2col(Tensor x, ConvGeometry g, Tensor cols) {
        run("im2col", x, () -> Kernels.im2col().x(p(x)).C(g.in()).H(g.height()).W(g.width()).k(g.kernel())
                .pad(g.pad()).cols(p(cols)).launch(launcher, kit.grid(cols.numel())));
    }

    private static Tensor image(Tensor batch, int n, int channels, ConvGeometry g) {
        return batch.view((long) n * channels * g.plane(), Shape.of(channels, g.plane()));
    }

    @Override
    public void addBias(Tensor y, NcsLayout l, Tensor bias) {
        run("add bias", y, () -> Kernels.addBias().y(p(y)).bias(p(bias)).N(l.n()).C(l.c()).S(l.s())
                .launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void biasGrad(Tensor dy, NcsLayout l, Tensor grad) {
        run("bias gradient", dy, () -> Kernels.biasGrad().dy(p(dy)).N(l.n()).C(l.c()).S(l.s()).grad(p(grad))
                .launch(launcher, kit.itemBlocks(l.c())));
    }

    @Override
    public void relu(Tensor x, Tensor y) {
        run("relu", x, () -> Kernels.relu().x(p(x)).y(p(y)).n(x.numel()).launch(launcher, kit.grid(x.numel())));
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        run("relu backward", y, () -> Kernels.reluBackward().y(p(y)).dy(p(dy)).dx(p(dx)).n(y.numel())
                .launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window) {
        run("max pool", x, () -> Kernels.maxPool().x(p(x)).planes(planes).H(height).W(width).y(p(y))
                .window(p(window)).launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx) {
        run("max pool backward", dx, () -> Kernels.maxPoolBackward().dy(p(dy)).window(p(window)).planes(planes)
                .H(height).W(width).dx(p(dx)).launch(launcher, kit.grid(dx.numel())));
    }

    @Override
    public void averagePool(Tensor x, NcsLayout l, Tensor y) {
        run("average pool", x, () -> Kernels.averagePool().x(p(x)).rows(l.n() * l.c()).S(l.s()).y(p(y))
                .launch(launcher, kit.itemBlocks(l.n() * l.c())));
    }

    @Override
    public void averagePoolBackward(Tensor dy, NcsLayout l, Tensor dx) {
        run("average pool backward", dx, () -> Kernels.averagePoolBackward().dy(p(dy)).rows(l.n() * l.c())
                .S(l.s()).dx(p(dx)).launch(launcher, kit.grid(dx.numel())));
    }

    /** The per-sample losses are summed on the host, in float64, in order. */
    @Override
    public double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits) {
        int batch = (int) logits.shape().dim(0);
        int classes = (int) logits.shape().dim(1);
        try (Tensor losses = backend.empty(Shape.of(batch), DType.FLOAT32)) {
            run("softmax cross-entropy", logits, () -> Kernels.softmaxCrossEntropy().logits(p(logits))
                    .labels(p(labels)).B(batch).K(classes).loss(p(losses)).dlogits(p(dlogits))
                    .launch(launcher, kit.grid(batch)));
            double sum = 0;
            for (float l : losses.toFloatArray()) {
                sum += l;
            }
            return sum / batch;
        }
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        run("sgd step", param, () -> Kernels.sgdStep().param(p(param)).grad(p(grad)).velocity(p(velocity))
                .n(param.numel()).lr(lr).momentum(momentum).weightDecay(weightDecay)
                .launch(launcher, kit.grid(param.numel())));
    }

    @Override
    public void clamp(Tensor t, float lo, float hi) {
        run("clamp", t, () -> Kernels.clampValues().x(p(t)).n(t.numel()).lo(lo).hi(hi)
                .launch(launcher, kit.grid(t.numel())));
    }
}
