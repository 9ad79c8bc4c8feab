package dev.jnorm.backend;

import dev.jnorm.backend.cpu.CpuBackend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;

/**
 * Where tensors live and normalizations run. Layers are backend-agnostic: they validate their
 * arguments, allocate outputs here and call one operation per pass.
 *
 * <p>The operations follow the two kernel families of NCHW normalization: <em>rows</em>
 * (contiguous groups: LayerNorm, InstanceNorm, GroupNorm, RMSNorm) and <em>channels</em>
 * (per-channel groups of N strided chunks: BatchNorm), plus WeightNorm and the two norms composed
 * of both (Batch-Instance, Switchable). Every operation receives arguments already validated by
 * the caller. Statistics use the biased variance and {@code rstd = 1/sqrt(var + eps)}. Outputs
 * ({@code y}, {@code dx}, saved statistics) are overwritten; parameter gradients, when not null,
 * are accumulated into ({@code grad += ...}), like PyTorch's {@code .grad}.
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

    // ---- rows family ----

    /**
     * Normalizes each row: {@code y = (x − mean)·rstd·weight + bias} (RMS rows: {@code y = x·rstd·weight}
     * with {@code rstd = 1/sqrt(mean(x²) + eps)}), saving one mean and rstd per row.
     *
     * @param weight   affine scale or null: element i uses weight[(i / spatial) % channels] (per channel)
     *                 or weight[i % length] (elementwise)
     * @param bias     affine shift or null
     * @param saveMean {@code [rows]}; null for RMS rows
     * @param running  for InstanceNorm rows only, running statistics to update with the per-(n, c)
     *                 statistics averaged over n; otherwise null
     */
    void rowsForward(RowsLayout layout, double eps, Tensor x, Tensor weight, Tensor bias,
                     Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running, double factor);

    /**
     * Gradient of {@link #rowsForward}: with {@code g = dy·weight} and {@code x̂ = (x − mean)·rstd},
     * {@code dx = rstd·(g − mean(g) − x̂·mean(g·x̂))} per row (RMS rows: without {@code mean(g)});
     * {@code gradWeight += Σ dy·x̂}, {@code gradBias += Σ dy} over the elements using each parameter.
     */
    void rowsBackward(RowsLayout layout, Tensor x, Tensor dy, Tensor saveMean, Tensor saveRstd, Tensor weight,
                      Tensor dx, Tensor gradWeight, Tensor gradBias);

    // ---- channels family ----

    /**
     * Per-channel normalization {@code y = (x − mean_c)·rstd_c·weight_c + bias_c}. With
     * {@code batchStatistics} the statistics are the batch's, over (N, S), and {@code running}
     * (when not null) is updated with them; otherwise they are {@code running}'s. The statistics
     * used are saved ({@code [C]}).
     */
    void channelsForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor weight, Tensor bias,
                         Tensor y, Tensor saveMean, Tensor saveRstd, RunningStats running, double factor);

    /**
     * Gradient of {@link #channelsForward}. With batch statistics
     * {@code dx = rstd·(g − mean(g) − x̂·mean(g·x̂))} over each channel ({@code g = dy·weight});
     * with running statistics, which are constants, {@code dx = rstd·g}.
     */
    void channelsBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, Tensor saveMean,
                          Tensor saveRstd, Tensor weight, Tensor dx, Tensor gradWeight, Tensor gradBias);

    // ---- WeightNorm ----

    /**
     * {@code w = g_b · v / ‖v_b‖} where {@code v} is seen as {@code [outer, slices, inner]} and
     * {@code ‖v_b‖} is the Euclidean norm of slice b over (outer, inner); saves the norms {@code [slices]}.
     */
    void weightNormForward(NcsLayout layout, Tensor v, Tensor g, Tensor w, Tensor saveNorm);

    /**
     * Gradient of {@link #weightNormForward}:
     * {@code gradG_b += Σ dw·v / ‖v_b‖},
     * {@code gradV += (g_b/‖v_b‖)·(dw − v·Σ(dw·v)/‖v_b‖²)}.
     */
    void weightNormBackward(NcsLayout layout, Tensor v, Tensor g, Tensor saveNorm, Tensor dw,
                            Tensor gradV, Tensor gradG);

    // ---- composites ----

    /**
     * Batch-Instance: {@code y = weight_c·(rho_c·x̂_BN + (1 − rho_c)·x̂_IN) + bias_c}, with BatchNorm
     * statistics from the batch (updating {@code running} when not null) or from {@code running},
     * and InstanceNorm statistics always from the input.
     */
    void batchInstanceForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor rho,
                              Tensor weight, Tensor bias, Tensor y, BatchInstanceStats saved,
                              RunningStats running, double factor);

    /** Gradient of {@link #batchInstanceForward} for the input, rho, weight and bias. */
    void batchInstanceBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy,
                               BatchInstanceStats saved, Tensor rho, Tensor weight,
                               Tensor dx, Tensor gradRho, Tensor gradWeight, Tensor gradBias);

    /**
     * Switchable: per (n, c), {@code mean = Σ_k softmax(meanWeight)_k·mean_k} and
     * {@code var = Σ_k softmax(varWeight)_k·var_k} over k = instance, layer, batch (biased
     * variances; the batch term from the batch, updating {@code running} when not null, or from
     * {@code running}), then {@code y = (x − mean)·rstd·weight_c + bias_c}.
     */
    void switchableForward(NcsLayout layout, double eps, boolean batchStatistics, Tensor x, Tensor meanWeight,
                           Tensor varWeight, Tensor weight, Tensor bias, Tensor y, SwitchableStats saved,
                           RunningStats running, double factor);

    /** Gradient of {@link #switchableForward} for the input, both mixing logits, weight and bias. */
    void switchableBackward(NcsLayout layout, boolean batchStatistics, Tensor x, Tensor dy, SwitchableStats saved,
                            Tensor meanWeight, Tensor varWeight, Tensor weight, Tensor dx,
                            Tensor gradMeanWeight, Tensor gradVarWeight, Tensor gradWeight, Tensor gradBias);

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
