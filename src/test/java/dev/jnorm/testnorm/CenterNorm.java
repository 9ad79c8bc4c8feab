package dev.jnorm.testnorm;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.NormOp;
import dev.jnorm.backend.cpu.internal.CpuKit;
import dev.jnorm.backend.cuda.internal.CudaKit;
import dev.jnorm.norm.ForwardResult;
import dev.jnorm.norm.NormConfig;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.Map;
import java.util.Set;

/**
 * A norm added from outside the library, to show what adding one touches: this file (its layer,
 * its op with the float64 reference, its registry entry) and one line in
 * {@code META-INF/services/dev.jnorm.norm.NormSpec}. It centers each row of the last dim,
 * {@code y = x − mean(x)}, so {@code dx = dy − mean(dy)}; it has no parameters, no settings and no
 * CUDA kernel (a built-in norm would add its kernels and their launch plan in {@link Center#launch}).
 */
public final class CenterNorm extends NormLayer<CenterNorm> {

    public CenterNorm(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        Tensor y = backend().empty(x.shape(), x.dtype());
        backend().run(new Center("center forward", x, y));
        return remember(new Saved(y)).output();
    }

    @Override
    protected Tensor backwardThrough(ForwardResult forward, Tensor dy) {
        Tensor dx = backend().empty(dy.shape(), dy.dtype());
        backend().run(new Center("center backward", dy, dx));
        return dx;
    }

    @Override
    public ForwardResult lastForward() {
        return lastForward(Saved.class);
    }

    /** Centering saves nothing: its backward is centering too. */
    private record Saved(Tensor output) implements ForwardResult {
        @Override
        public Map<String, Tensor> savedStatistics() {
            return Map.of();
        }

        @Override
        public void closeSaved() {
        }
    }

    /** {@code out = in − mean(in)} over each row of the last dim. */
    private record Center(String name, Tensor in, Tensor out) implements NormOp {
        @Override
        public Shape shape() {
            return in.shape();
        }

        @Override
        public void reference(CpuKit cpu) {
            double[] v = cpu.read(in);
            int length = (int) in.shape().dim(in.shape().rank() - 1);
            for (int row = 0; row < v.length; row += length) {
                double mean = 0;
                for (int i = row; i < row + length; i++) {
                    mean += v[i];
                }
                mean /= length;
                for (int i = row; i < row + length; i++) {
                    v[i] -= mean;
                }
            }
            cpu.write(out, v);
        }

        @Override
        public void launch(CudaKit gpu) {
            throw new UnsupportedOperationException("center is a test norm with no CUDA kernel");
        }
    }

    /** Its registry entry, a service: {@code jnorm run --norm center}, the benchmark's rows suite. */
    public static final class Spec implements NormSpec {
        @Override
        public String commandName() {
            return "center";
        }

        @Override
        public String description() {
            return "Centering (test only): subtracts each row's mean over the last dim";
        }

        @Override
        public Set<Setting> settings() {
            return Set.of();
        }

        @Override
        public Set<String> parameters() {
            return Set.of();
        }

        @Override
        public String suite() {
            return "rows";
        }

        @Override
        public boolean featureMaps() {
            return false;
        }

        @Override
        public boolean reparameterizes() {
            return false;
        }

        @Override
        public boolean batchStatisticsFirst(boolean training) {
            return false;
        }

        @Override
        public boolean elementwise(boolean training) {
            return false;
        }

        @Override
        public long groupSize(Shape shape, NormConfig config) {
            return shape.dim(shape.rank() - 1);
        }

        @Override
        public NormLayer<?> build(Backend backend, Shape input, NormConfig config, DType dtype) {
            return new CenterNorm(backend, dtype);
        }
    }
}
