import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.NcclReducer;
import dev.jnorm.norm.SyncBatchNorm;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Random;

/**
 * One rank of a SyncBatchNorm across processes, one GPU each, meeting through NCCL: rank 0 writes
 * NCCL's unique id to a file, the others wait for it (a real launcher passes it its own way).
 * Each rank normalizes its own 4 examples with the statistics of all ranks' examples, and prints
 * its running mean, which is the same on every rank. Run by examples/sync/run-two-processes.sh:
 *
 *   java -cp CLASSPATH examples/sync/SyncTwoProcesses.java RANK RANKS ID_FILE
 */
public class SyncTwoProcesses {
    public static void main(String[] args) throws Exception {
        int rank = Integer.parseInt(args[0]);
        int ranks = Integer.parseInt(args[1]);
        Path idFile = Path.of(args[2]);
        byte[] id;
        if (rank == 0) {
            id = NcclReducer.uniqueId();
            Path partial = Files.createTempFile(idFile.toAbsolutePath().getParent(), "nccl", ".id");
            Files.write(partial, id);
            Files.move(partial, idFile, StandardCopyOption.ATOMIC_MOVE); // whole, or not there
        } else {
            while (!Files.exists(idFile)) {
                Thread.sleep(50);
            }
            id = Files.readAllBytes(idFile);
        }
        Shape local = Shape.of(4, 64, 32, 32);
        float[] data = new float[(int) local.numel()];
        Random random = new Random(rank); // each rank its own examples
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) (random.nextGaussian() * (1 + rank) + rank);
        }
        try (CudaBackend gpu = CudaBackend.open(rank);
             NcclReducer group = NcclReducer.join(gpu, id, ranks, rank);
             SyncBatchNorm bn = SyncBatchNorm.builder(64, group).build(gpu);
             Tensor x = gpu.upload(data, local);
             Tensor y = bn.forward(x);
             Tensor dx = bn.backward(y)) {
            float[] mean = bn.runningMean().toFloatArray();
            System.out.println("rank " + rank + " of " + ranks + ": running mean[0..3] = "
                    + Arrays.toString(Arrays.copyOf(mean, 4)) + ", grad_bias[0] = " + bn.bias().grad().toFloatArray()[0]);
        }
    }
}
