package dev.jnorm.norm;

import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.tensor.Shape;
import java.util.List;

/** One operation made of others run in order (Ghost BatchNorm's virtual batches, each on views of one tensor). */
record ChunkedOp(String name, Shape shape, List<NormOp> chunks) implements NormOp {
    @Override
    public void reference(CpuKit cpu) {
        chunks.forEach(op -> op.reference(cpu));
    }

    @Override
    public void launch(CudaKit gpu) {
        chunks.forEach(op -> op.launch(gpu));
    }

    @Override
    public boolean sixteenBitKernels() {
        return chunks.stream().allMatch(NormOp::sixteenBitKernels);
    }
}
