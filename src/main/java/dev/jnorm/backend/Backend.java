package dev.jnorm.backend;

import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Where tensors live and normalizations run. Layers are backend-agnostic: they validate their
 * arguments, allocate outputs here and {@link #run} one {@link NormOp} per pass, which computes
 * itself with the building blocks each backend lends it: the float64 reference on the CPU, kernels
 * on a CUDA device. Statistics use the biased variance and {@code rstd = 1/sqrt(var + eps)}.
 */
public interface Backend extends AutoCloseable {

    /** Short name: {@code cpu} or {@code cuda}. */
    String name();

    /** One line on what this backend runs on. */
    String description();

    // ---- memory ----

    /** True when this backend holds and computes tensors of {@code dtype}. */
    boolean supports(DType dtype);

    /** A new zero-filled tensor. */
    Tensor allocate(Shape shape, DType dtype);

    /** A new tensor whose contents are unspecified until written: for outputs that are overwritten. */
    Tensor empty(Shape shape, DType dtype);

    /** A new float32 tensor holding {@code values}. */
    Tensor upload(float[] values, Shape shape);

    /** A new float64 tensor holding {@code values}. */
    Tensor upload(double[] values, Shape shape);

    /** Sets every element of {@code t} to {@code value}. */
    void fill(Tensor t, double value);

    /** Copies {@code src} into {@code dst}, which has as many elements. */
    void copy(Tensor src, Tensor dst);

    /** The operations of the training stack around the norms, on this backend's tensors. */
    NetworkOps network();

    // ---- the norms ----

    /**
     * Runs one pass of a norm (its arguments already checked): its float64 reference on the CPU, its
     * kernels on a CUDA device. Outputs ({@code y}, {@code dx}, saved statistics) are overwritten;
     * parameter gradients are accumulated into ({@code grad += ...}), like PyTorch's {@code .grad}.
     */
    void run(NormOp op);

    /** Releases the backend's resources; idempotent. Tensors it made must not be used afterwards. */
    @Override
    void close();

    // ---- choosing a backend ----

    /** The float64 CPU reference backend. */
    static Backend cpu() {
        return new CpuBackend();
    }

    /** The best usable backend (CUDA if usable, else the CPU); logs which one it picked and why. */
    static Backend auto() {
        return named("auto");
    }

    /**
     * The backend called {@code cpu}, {@code cuda}, {@code auto} (CUDA if usable, else the CPU, saying
     * why) or {@code emulated} (the CUDA backend on the CPU emulator of its kernels, where it is built,
     * with an H200's geometry, or the one {@code jnorm.emulator.geometry} names; {@code emulated:h100}
     * and {@code emulated:small} name theirs). CUDA backends wait for each kernel where
     * {@code jnorm.cuda.sync} is true.
     */
    static Backend named(String name) {
        return named(name, Boolean.getBoolean(CudaBackend.SYNC_PROPERTY));
    }

    /**
     * The backend {@link #named(String)} names.
     *
     * @param syncEachLaunch for a CUDA backend, wait for each kernel (see {@link CudaBackend#syncEachLaunch()})
     */
    static Backend named(String name, boolean syncEachLaunch) {
        return BackendSelector.named(name, syncEachLaunch);
    }
}
