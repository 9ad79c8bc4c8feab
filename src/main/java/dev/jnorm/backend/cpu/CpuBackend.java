package dev.jnorm.backend.cpu;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NetworkOps;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cpu.internal.CpuNetworkOps;
import dev.jnorm.backend.cpu.internal.FloatPool;
import dev.jnorm.backend.cpu.internal.HostTensor;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * The CPU backend: float64 and 16-bit tensors on the reference, float32 ones on fast loops where a
 * pass has them. Independent groups run in parallel; every sum runs in a fixed order, so results
 * are deterministic.
 *
 * <p>The reference: each norm's pass ({@link NormOp#reference}) reads its tensors into
 * {@code double[]} copies, computes in float64 with two-pass statistics, and writes back rounded
 * to the output's dtype: those formulas are the contract the CUDA kernels, and the fast loops, are
 * tested against. The fast path: float32 tensors of BatchNorm, GroupNorm, InstanceNorm, LayerNorm
 * and RMSNorm ({@link NormOp#float32}: loops on the arrays, statistics and sums in double) and of
 * the training stack (its elementwise loops, and GEMM on OpenBLAS where it loads); the other norms'
 * float32 passes take the reference.
 */
public final class CpuBackend implements Backend {
    private final CpuKit kit = new CpuKit(this);
    private final NetworkOps network = new CpuNetworkOps(kit);

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return "CPU backend (float32 loops, GEMM on " + CpuNetworkOps.gemmLibrary() + "; float64 reference; "
                + Runtime.getRuntime().availableProcessors() + " threads)";
    }

    // ---- memory ----

    @Override
    public boolean supports(DType dtype) {
        return true;
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        return HostTensor.zeros(this, shape, dtype);
    }

    /** Float32 storage of closed tensors, for {@link #empty}. */
    private final FloatPool pool = FloatPool.forHeap();

    /**
     * A tensor whose contents are unspecified: float32 storage is reused from closed tensors (see
     * {@link FloatPool}; JNORM_CPU_POISON=1 fills it with NaN), other dtypes are zeros.
     */
    @Override
    public Tensor empty(Shape shape, DType dtype) {
        return HostTensor.empty(this, pool, shape, dtype);
    }

    @Override
    public Tensor upload(float[] values, Shape shape) {
        Tensor t = allocate(shape, DType.FLOAT32);
        t.copyFrom(values);
        return t;
    }

    @Override
    public Tensor upload(double[] values, Shape shape) {
        Tensor t = allocate(shape, DType.FLOAT64);
        t.copyFrom(values);
        return t;
    }

    @Override
    public void fill(Tensor t, double value) {
        own(t).fill(value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        own(src);
        own(dst);
        if (dst.dtype() == DType.FLOAT32 && src.dtype() == DType.FLOAT32) {
            dst.copyFrom(src.toFloatArray());
        } else {
            dst.copyFrom(src.toDoubleArray());
        }
    }

    @Override
    public NetworkOps network() {
        return network;
    }

    private HostTensor own(Tensor t) {
        return kit.own(t);
    }

    // ---- the norms ----

    @Override
    public void run(NormOp op) {
        if (!op.float32(kit)) {
            op.reference(kit);
        }
    }

    @Override
    public void close() {
        pool.clear(); // the kept storage goes to the garbage collector; host tensors are collected too
    }
}
