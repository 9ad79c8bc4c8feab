package dev.jnorm.backend;

import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.tensor.Shape;

/**
 * One pass of a normalization, a norm's forward or backward: a record of its arguments (tensors
 * already checked, their layout, the outputs to write) that computes itself on each backend, with
 * its float64 reference on the CPU and its launch plan on a CUDA device. Each norm keeps its ops
 * together with its checks and layout; a backend only runs them ({@link Backend#run}), lending the
 * building blocks it has (statistics, sums, the elementwise passes, memory).
 */
public interface NormOp {

    /**
     * What the pass is called in errors and in traffic counts, such as {@code "rows forward"}.
     *
     * @return the name
     */
    String name();

    /**
     * The input's shape, for error messages.
     *
     * @return the shape
     */
    Shape shape();

    /**
     * The float64 reference, on the CPU backend.
     *
     * @param cpu the CPU backend's building blocks
     */
    void reference(CpuKit cpu);

    /**
     * The pass in float32 loops on the CPU backend ({@link dev.jnorm.backend.cpu.internal.Float32Loops}),
     * where this op has them and its data are float32: true when it ran, false (the default) when the
     * backend is to run {@link #reference} instead. The reference stays the oracle these loops are
     * tested against.
     *
     * @param cpu the CPU backend's building blocks
     * @return whether the pass ran
     */
    default boolean float32(CpuKit cpu) {
        return false;
    }

    /**
     * The sequence of kernels, on a CUDA backend (a GPU or the kernel emulator).
     *
     * @param gpu the CUDA backend's building blocks
     */
    void launch(CudaKit gpu);

    /**
     * True when {@link #launch} reads and writes float16 and bfloat16 data itself (the kernels it
     * launches through {@code CudaKit} take 16-bit storage); otherwise the CUDA backend runs it on
     * float32 copies of its 16-bit tensors, widened before and rounded back after.
     *
     * @return whether the CUDA launch plan takes 16-bit storage
     */
    default boolean sixteenBitKernels() {
        return false;
    }
}
