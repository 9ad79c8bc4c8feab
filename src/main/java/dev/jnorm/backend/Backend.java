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

    /**
     * Short name: {@code cpu} or {@code cuda}.
     *
     * @return {@code cpu} or {@code cuda}
     */
    String name();

    /**
     * One line on what this backend runs on.
     *
     * @return the device, or the CPU, in words
     */
    String description();

    // ---- memory ----

    /**
     * True when this backend holds and computes tensors of {@code dtype}.
     *
     * @param dtype a storage dtype
     * @return whether tensors of {@code dtype} can be made here
     */
    boolean supports(DType dtype);

    /**
     * A new zero-filled tensor.
     *
     * @param shape its shape
     * @param dtype its dtype
     * @return the tensor, zeros
     */
    Tensor allocate(Shape shape, DType dtype);

    /**
     * A new tensor whose contents are unspecified until written: for outputs that are overwritten.
     *
     * @param shape its shape
     * @param dtype its dtype
     * @return the tensor, not yet written
     */
    Tensor empty(Shape shape, DType dtype);

    /**
     * A new float32 tensor holding {@code values}.
     *
     * @param values the values, in C order
     * @param shape their shape
     * @return the tensor
     */
    Tensor upload(float[] values, Shape shape);

    /**
     * A new float64 tensor holding {@code values}.
     *
     * @param values the values, in C order
     * @param shape their shape
     * @return the tensor
     */
    Tensor upload(double[] values, Shape shape);

    /**
     * Sets every element of {@code t} to {@code value}.
     *
     * @param t the tensor
     * @param value the value
     */
    void fill(Tensor t, double value);

    /**
     * Copies {@code src} into {@code dst}, which has as many elements.
     *
     * @param src the source
     * @param dst the destination
     */
    void copy(Tensor src, Tensor dst);

    /**
     * The operations of the training stack around the norms, on this backend's tensors.
     *
     * @return this backend's training-stack operations
     */
    NetworkOps network();

    // ---- the norms ----

    /**
     * Runs one pass of a norm (its arguments already checked): its float64 reference on the CPU, its
     * kernels on a CUDA device. Outputs ({@code y}, {@code dx}, saved statistics) are overwritten;
     * parameter gradients are accumulated into ({@code grad += ...}), like PyTorch's {@code .grad}.
     *
     * @param op the pass, with its arguments and outputs
     */
    void run(NormOp op);

    /** Releases the backend's resources; idempotent. Tensors it made must not be used afterwards. */
    @Override
    void close();

    // ---- choosing a backend ----

    /**
     * The float64 CPU reference backend.
     *
     * @return a new CPU backend
     */
    static Backend cpu() {
        return new CpuBackend();
    }

    /**
     * The best usable backend (CUDA if usable, else the CPU); logs which one it picked and why.
     *
     * @return the backend picked
     */
    static Backend auto() {
        return named("auto");
    }

    /**
     * The backend called {@code cpu}, {@code cuda}, {@code auto} (CUDA if usable, else the CPU, saying
     * why) or {@code emulated} (the CUDA backend on the CPU emulator of its kernels, where it is built,
     * with an H200's geometry, or the one {@code jnorm.emulator.geometry} names; {@code emulated:h100}
     * and {@code emulated:small} name theirs). CUDA backends wait for each kernel where
     * {@code jnorm.cuda.sync} is true.
     *
     * @param name {@code cpu}, {@code cuda}, {@code auto}, {@code emulated} or {@code emulated:GEOMETRY}
     * @return the backend, open
     * @throws IllegalArgumentException for another name, or where the backend named cannot start
     */
    static Backend named(String name) {
        return named(name, Boolean.getBoolean(CudaBackend.SYNC_PROPERTY));
    }

    /**
     * The backend {@link #named(String)} names.
     *
     * @param syncEachLaunch for a CUDA backend, wait for each kernel (see {@link CudaBackend#syncEachLaunch()})
     * @param name as for {@link #named(String)}
     * @return the backend, open
     */
    static Backend named(String name, boolean syncEachLaunch) {
        return BackendSelector.named(name, syncEachLaunch);
    }
}
