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
 * on cuBLAS (or {@code gemm_fallback} where cuBLAS is missing). Activations may be float32,
 * float16 or bfloat16 (mixed precision: parameters, their gradients and the losses stay float32,
 * every sum is fp32). Serialized with the backend.
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

    private DType storage(Tensor t) {
        return kit.storage(t);
    }

    /**
     * Row-major {@code C = alpha·op(A)·op(B) + beta·C}, accumulated in fp32. Operands of 16-bit
     * activations and float32 parameters meet in the 16-bit type, as autocast casts them: the float32
     * one is rounded into a copy. C may be float32 or 16-bit; cuBLAS writes either, the fallback
     * kernel writes float32, rounded into a 16-bit C after.
     */
    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, float alpha, Tensor a, Tensor b,
                     float beta, Tensor c) {
        DType inputs = storage(a) != DType.FLOAT32 ? storage(a) : storage(b);
        run("gemm", c, () -> {
            try (Tensor a2 = castOrNull(a, inputs); Tensor b2 = castOrNull(b, inputs)) {
                Tensor ea = a2 == null ? a : a2;
                Tensor eb = b2 == null ? b : b2;
                int lda = transposeA ? m : k;
                int ldb = transposeB ? k : n;
                if (device.gemm(transposeA, transposeB, m, n, k, alpha, p(ea), lda, p(eb), ldb, beta, p(c), inputs,
                        storage(c))) {
                    return;
                }
                try (Tensor wide = castOrNull(c, DType.FLOAT32, beta != 0)) {
                    Tensor out = wide == null ? c : wide;
                    long tiles = CudaKit.ceilDiv(m, TILE) * CudaKit.ceilDiv(n, TILE);
                    CudaKit.byStorage(inputs, Kernels.gemmFallback(), Kernels.gemmFallbackF16(),
                                    Kernels.gemmFallbackBf16())
                            .transA(transposeA ? 1 : 0).transB(transposeB ? 1 : 0).m(m).n(n).k(k).alpha(alpha)
                            .A(p(ea)).lda(lda).B(p(eb)).ldb(ldb).beta(beta).C(p(out))
                            .launch(launcher, kit.itemBlocks(tiles));
                    if (wide != null) {
                        backend.copy(wide, c);
                    }
                }
            }
        });
    }

    /** A copy of {@code t} in {@code dtype}, or null where {@code t} has it already. */
    private Tensor castOrNull(Tensor t, DType dtype) {
        return castOrNull(t, dtype, true);
    }

    /** As {@link #castOrNull(Tensor, DType)}, the values copied only when {@code copy}. */
    private Tensor castOrNull(Tensor t, DType dtype, boolean copy) {
        if (t.dtype() == dtype) {
            return null;
        }
        Tensor cast = backend.empty(t.shape(), dtype);
        if (copy) {
            backend.copy(t, cast);
        }
        return cast;
    }

    /**
     * Per image: im2col, then GEMM into the image's slice of y (the columns buffer, in x's dtype,
     * reused in stream order). A float32 weight meets 16-bit activations rounded once per call; a
     * 16-bit y with a bias is summed in float32 and rounded once, after the bias.
     */
    @Override
    public void convForward(Tensor x, Tensor weight, Tensor bias, Tensor y, ConvGeometry g) {
        try (Tensor cast = castOrNull(weight, x.dtype());
             Tensor cols = backend.empty(Shape.of(g.patch(), g.plane()), x.dtype());
             Tensor wide = bias == null ? null : castOrNull(y, DType.FLOAT32, false)) {
            Tensor w = (cast == null ? weight : cast).reshape(Shape.of(g.out(), g.patch()));
            Tensor sum = wide == null ? y : wide;
            for (int n = 0; n < g.n(); n++) {
                im2col(image(x, n, g.in(), g), g, cols);
                gemm(false, false, g.out(), g.plane(), g.patch(), 1, w, cols, 0, image(sum, n, g.out(), g));
            }
            if (bias != null) {
                addBias(sum, new NcsLayout(g.n(), g.out(), g.plane()), bias);
            }
            if (wide != null) {
                backend.copy(wide, y);
            }
        }
    }

    /**
     * Per image: {@code dW += dy·colsᵀ} (in image order, fp32), {@code dx = col2im(Wᵀ·dy)}, Wᵀ·dy
     * kept in fp32 so that a 16-bit dx is rounded once.
     */
    @Override
    public void convBackward(Tensor x, Tensor weight, Tensor dy, Tensor dx, Tensor gradWeight, Tensor gradBias,
                             ConvGeometry g) {
        Tensor dw = gradWeight.reshape(Shape.of(g.out(), g.patch()));
        Shape patches = Shape.of(g.patch(), g.plane());
        try (Tensor cast = castOrNull(weight, x.dtype());
             Tensor cols = backend.empty(patches, x.dtype());
             Tensor dcols = backend.empty(patches, DType.FLOAT32)) {
            Tensor w = (cast == null ? weight : cast).reshape(Shape.of(g.out(), g.patch()));
            for (int n = 0; n < g.n(); n++) {
                Tensor dyn = image(dy, n, g.out(), g);
                im2col(image(x, n, g.in(), g), g, cols);
                gemm(false, true, g.out(), g.patch(), g.plane(), 1, dyn, cols, 1, dw);
                gemm(true, false, g.patch(), g.plane(), g.out(), 1, w, dyn, 0, dcols);
                Tensor dxn = image(dx, n, g.in(), g);
                run("col2im", dxn, () -> CudaKit.byStorage(storage(dxn), Kernels.col2im(), Kernels.col2imF16(),
                                Kernels.col2imBf16()).cols(p(dcols)).C(g.in()).H(g.height()).W(g.width())
                        .k(g.kernel()).pad(g.pad()).dx(p(dxn)).launch(launcher, kit.grid(dxn.numel())));
            }
        }
        if (gradBias != null) {
            biasGrad(dy, new NcsLayout(g.n(), g.out(), g.plane()), gradBias);
        }
    }

    private void im2col(Tensor x, ConvGeometry g, Tensor cols) {
        run("im2col", x, () -> CudaKit.byStorage(storage(x), Kernels.im2col(), Kernels.im2colF16(),
                        Kernels.im2colBf16()).x(p(x)).C(g.in()).H(g.height()).W(g.width()).k(g.kernel())
                .pad(g.pad()).cols(p(cols)).launch(launcher, kit.grid(cols.numel())));
    }

    private static Tensor image(Tensor batch, int n, int channels, ConvGeometry g) {
        return batch.view((long) n * channels * g.plane(), Shape.of(channels, g.plane()));
    }

    @Override
    public void addBias(Tensor y, NcsLayout l, Tensor bias) {
        run("add bias", y, () -> CudaKit.byStorage(storage(y), Kernels.addBias(), Kernels.addBiasF16(),
                        Kernels.addBiasBf16()).y(p(y)).bias(p(bias)).N(l.n()).C(l.c()).S(l.s())
                .launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void biasGrad(Tensor dy, NcsLayout l, Tensor grad) {
        run("bias gradient", dy, () -> CudaKit.byStorage(storage(dy), Kernels.biasGrad(), Kernels.biasGradF16(),
                        Kernels.biasGradBf16()).dy(p(dy)).N(l.n()).C(l.c()).S(l.s()).grad(p(grad))
                .launch(launcher, kit.itemBlocks(l.c())));
    }

    @Override
    public void relu(Tensor x, Tensor y) {
        run("relu", x, () -> CudaKit.byStorage(storage(x), Kernels.relu(), Kernels.reluF16(), Kernels.reluBf16())
                .x(p(x)).y(p(y)).n(x.numel()).launch(launcher, kit.grid(x.numel())));
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        run("relu backward", y, () -> CudaKit.byStorage(storage(y), Kernels.reluBackward(),
                        Kernels.reluBackwardF16(), Kernels.reluBackwardBf16()).y(p(y)).dy(p(dy)).dx(p(dx))
                .n(y.numel()).launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void maxPool(Tensor x, long planes, int height, int width, Tensor y, Tensor window) {
        run("max pool", x, () -> CudaKit.byStorage(storage(x), Kernels.maxPool(), Kernels.maxPoolF16(),
                        Kernels.maxPoolBf16()).x(p(x)).planes(planes).H(height).W(width).y(p(y))
                .window(p(window)).launch(launcher, kit.grid(y.numel())));
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor window, long planes, int height, int width, Tensor dx) {
        run("max pool backward", dx, () -> CudaKit.byStorage(storage(dx), Kernels.maxPoolBackward(),
                        Kernels.maxPoolBackwardF16(), Kernels.maxPoolBackwardBf16()).dy(p(dy)).window(p(window))
                .planes(planes).H(height).W(width).dx(p(dx)).launch(launcher, kit.grid(dx.numel())));
    }

    @Override
    public void averagePool(Tensor x, NcsLayout l, Tensor y) {
        run("average pool", x, () -> CudaKit.byStorage(storage(x), Kernels.averagePool(),
                        Kernels.averagePoolF16(), Kernels.averagePoolBf16()).x(p(x)).rows(l.n() * l.c()).S(l.s())
                .y(p(y)).launch(launcher, kit.itemBlocks(l.n() * l.c())));
    }

    @Override
    public void averagePoolBackward(Tensor dy, NcsLayout l, Tensor dx) {
        run("average pool backward", dx, () -> CudaKit.byStorage(storage(dx), Kernels.averagePoolBackward(),
                        Kernels.averagePoolBackwardF16(), Kernels.averagePoolBackwardBf16()).dy(p(dy))
                .rows(l.n() * l.c()).S(l.s()).dx(p(dx)).launch(launcher, kit.grid(dx.numel())));
    }

    /** The per-sample losses (fp32) are summed on the host, in float64, in order. */
    @Override
    public double softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits) {
        int batch = (int) logits.shape().dim(0);
        int classes = (int) logits.shape().dim(1);
        try (Tensor losses = backend.empty(Shape.of(batch), DType.FLOAT32);
             Tensor cast = castOrNull(labels, DType.FLOAT32)) {
            Tensor classIndices = cast == null ? labels : cast;
            run("softmax cross-entropy", logits, () -> CudaKit.byStorage(storage(logits),
                            Kernels.softmaxCrossEntropy(), Kernels.softmaxCrossEntropyF16(),
                            Kernels.softmaxCrossEntropyBf16()).logits(p(logits)).labels(p(classIndices)).B(batch)
                    .K(classes).loss(p(losses)).dlogits(p(dlogits)).launch(launcher, kit.grid(batch)));
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
