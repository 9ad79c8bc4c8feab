package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.SyncBatchNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import dev.jnorm.testing.Close;
import dev.jnorm.testing.Cuda;
import dev.jnorm.testing.TestData;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SyncBatchNorm through NCCL on a GPU, one rank (a test process has one GPU to give): the gather
 * runs on the device through NCCL and the layer equals BatchNorm, output, gradients and running
 * statistics, over two steps. Skipped, saying why, without a GPU or without NCCL.
 */
@Tag("gpu")
class NcclGpuTest {

    @Test
    void oneRankThroughNcclIsBatchNorm() {
        String noGpu = Cuda.unavailableReason();
        assumeTrue(noGpu == null, noGpu);
        String noNccl = NcclReducerTest.ncclUnavailable();
        assumeTrue(noNccl == null, noNccl);
        try (CudaBackend gpu = CudaBackend.open();
             NcclReducer group = NcclReducer.join(gpu, NcclReducer.uniqueId(), 1, 0);
             SyncBatchNorm sync = SyncBatchNorm.builder(16, group).build(gpu);
             BatchNorm bn = BatchNorm.builder(16).build(gpu);
             Tensor x = TestData.randn(gpu, 1, DType.FLOAT32, 8, 16, 5, 5);
             Tensor dy = TestData.randn(gpu, 2, DType.FLOAT32, 8, 16, 5, 5)) {
            for (int step = 0; step < 2; step++) {
                try (Tensor y = sync.forward(x); Tensor dx = sync.backward(dy);
                     Tensor yb = bn.forward(x); Tensor dxb = bn.backward(dy)) {
                    Close.assertClose(yb, y, 1e-5, 1e-5, "output");
                    Close.assertClose(dxb, dx, 1e-4, 1e-4, "grad_input");
                }
            }
            Close.assertClose(bn.weight().grad(), sync.weight().grad(), 1e-4, 1e-4, "grad_weight");
            Close.assertClose(bn.runningVar(), sync.runningVar(), 1e-5, 1e-5, "running_var");
        }
    }
}
