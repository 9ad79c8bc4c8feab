package dev.jnorm.norm;

import dev.jnorm.backend.NormOp;

/**
 * A built-in norm's op: its CUDA launch plan reaches the data only through kernels that take 16-bit
 * storage (CudaKit's statistics, sums and elementwise passes, the rows kernels), so the backend runs
 * it on float16 and bfloat16 tensors as they are, with no float32 copies.
 */
interface SixteenBitOp extends NormOp {
    @Override
    default boolean sixteenBitKernels() {
        return true;
    }
}
