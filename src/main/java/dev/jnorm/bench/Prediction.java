package dev.jnorm.bench;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.internal.KernelStreams;
import dev.jnorm.backend.cuda.internal.LaunchModel;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a benchmark case should take on an H100/H200, for jnorm and for PyTorch eager, before any
 * GPU has timed it: the model docs/performance.md states, applied to what each does.
 *
 * <p>jnorm: the launches its launch plan makes for the case (recorded on a device that runs
 * nothing), each streaming kernel moving the tensor's values at its bytes per value (the emulator's
 * byte table), at {@code min(bandwidth, in flight / latency)} with what its resident blocks have in
 * flight (the kernel table), plus {@link LaunchModel#launch} per launch. PyTorch: the passes its
 * kernels make over the tensor (bytes per value and launches, from ATen's implementations), each
 * at the full bandwidth: the model grants PyTorch enough loads in flight everywhere.
 *
 * @param launches jnorm's launches for one run of the case
 */
public record Prediction(BenchCase c, int launches, double jnormMicros, double torchMicros) {
    private static final LaunchModel MODEL = LaunchModel.HOPPER;
    private static final int SHARED_PER_SM = 228 << 10;

    /** PyTorch eager's passes for a case: the bytes it moves per value, and its launches. */
    private record TorchPasses(int bytesPerValue, int launches) {
    }

    /**
     * By norm, forward (training), backward, and BatchNorm's forward in evaluation. BatchNorm: the
     * statistics kernel and the elementwise one (12 B, 20 B backward), one elementwise pass in
     * evaluation. InstanceNorm: BatchNorm on [1, N·C, S], the same. GroupNorm: row moments, the fused
     * parameters, the elementwise pass (12 B); backward the internal gradients, two coefficient
     * kernels and the elementwise pass (20 B). LayerNorm: one kernel (8 B; the second read of a row
     * hits the cache); backward dx and then dγ, dβ re-reading x and dy (20 B). RMSNorm: taken as
     * LayerNorm's (a fused kernel; PyTorch versions that compose it from elementwise ops move more).
     * WeightNorm: one fused kernel each way (8 B; backward reads the gradient and v, writes dv: 12 B,
     * where jnorm also reads the gradient it accumulates into).
     */
    private static final Map<String, List<TorchPasses>> TORCH = Map.of(
            "batch", List.of(new TorchPasses(12, 3), new TorchPasses(20, 2), new TorchPasses(8, 1)),
            "instance", List.of(new TorchPasses(12, 4), new TorchPasses(20, 4)),
            "group", List.of(new TorchPasses(12, 3), new TorchPasses(20, 4)),
            "layer", List.of(new TorchPasses(8, 1), new TorchPasses(20, 2)),
            "rms", List.of(new TorchPasses(8, 1), new TorchPasses(20, 2)),
            "weight", List.of(new TorchPasses(8, 1), new TorchPasses(12, 1)));

    /** jnorm over PyTorch: above 1 where jnorm is predicted faster. */
    public double ratio() {
        return torchMicros / jnormMicros;
    }

    /** The norms with a PyTorch counterpart to predict against. */
    public static boolean predicted(String norm) {
        return TORCH.containsKey(norm);
    }

    /** Predictions for the cases (of norms {@link #predicted} by PyTorch) on an H100/H200. */
    public static List<Prediction> of(List<BenchCase> cases) {
        LaunchRecorder device = new LaunchRecorder(LaunchRecorder.HOPPER);
        List<Prediction> out = new ArrayList<>();
        try (CudaBackend backend = new CudaBackend(device)) {
            for (BenchCase c : cases) {
                if (predicted(c.norm())) {
                    List<LaunchRecorder.Launch> launches = record(backend, device, c);
                    out.add(new Prediction(c, launches.size(), jnorm(c, launches), torch(c)));
                }
            }
        }
        return out;
    }

    /** The launches of one forward or backward of the case on an H100/H200, as the launch plans make them. */
    static List<LaunchRecorder.Launch> launches(BenchCase c) {
        LaunchRecorder device = new LaunchRecorder(LaunchRecorder.HOPPER);
        try (CudaBackend backend = new CudaBackend(device)) {
            return record(backend, device, c);
        }
    }

    private static List<LaunchRecorder.Launch> record(CudaBackend backend, LaunchRecorder device, BenchCase c) {
        NormSpec spec = c.spec();
        try (Tensor x = backend.allocate(c.shape(), DType.FLOAT32);
             Tensor d = backend.allocate(c.shape(), DType.FLOAT32)) {
            if (spec.reparameterizes()) {
                try (WeightNorm wn = WeightNorm.builder().dim(0).build(x)) {
                    wn.forward().close();
                    if (c.forward()) {
                        device.take();
                        wn.forward().close();
                    } else {
                        device.take();
                        wn.backward(d);
                    }
                }
            } else {
                try (NormLayer<?> layer = spec.build(backend, c.shape(), c.config(), DType.FLOAT32)) {
                    layer.setTraining(c.training());
                    layer.forward(x).close();
                    device.take();
                    if (c.forward()) {
                        layer.forward(x).close();
                    } else {
                        layer.backward(d, true).close();
                    }
                }
            }
            return device.take();
        }
    }

    private static double jnorm(BenchCase c, List<LaunchRecorder.Launch> launches) {
        double values = c.shape().numel();
        double seconds = 0;
        for (LaunchRecorder.Launch l : launches) {
            String kernel = l.kernel().entry();
            KernelStreams.Stream stream = KernelStreams.of(kernel);
            if (stream == null) {
                seconds += MODEL.launch(); // statistics, coefficients, parameters: bytes negligible
                continue;
            }
            KernelTable.Row row = KernelTable.row(kernel);
            long resident = row.warpsPerSm() / (l.block() / 32);
            if (l.sharedBytes() > 0) {
                resident = Math.min(resident, SHARED_PER_SM / (l.sharedBytes() + row.staticShared() + 1024L));
            }
            double blocks = Math.min(l.grid(), resident * LaunchRecorder.HOPPER.multiprocessors());
            seconds += MODEL.seconds(values * stream.bytesPerValue(), blocks * l.block() * stream.bytesInFlight());
        }
        return seconds * 1e6;
    }

    private static double torch(BenchCase c) {
        List<TorchPasses> passes = TORCH.get(c.norm());
        TorchPasses p = c.forward() ? passes.get(!c.training() && passes.size() > 2 ? 2 : 0) : passes.get(1);
        double values = c.shape().numel();
        return (values * p.bytesPerValue() / MODEL.bandwidth() + p.launches() * MODEL.launch()) * 1e6;
    }

    /** The table docs/performance.md carries: one row per case, then the medians by norm. */
    public static String markdown(List<Prediction> predictions) {
        StringBuilder s = new StringBuilder("| norm | pass | mode | shape | jnorm launches | jnorm µs | PyTorch µs | "
                + "PyTorch ÷ jnorm | GPU |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n");
        for (Prediction p : predictions) {
            BenchCase c = p.c();
            s.append(String.format("| %s | %s | %s | %s | %d | %.1f | %.1f | %.2f | awaiting a GPU run |%n", c.norm(),
                    c.direction(), c.mode(), c.shape(), p.launches(), p.jnormMicros(), p.torchMicros(), p.ratio()));
        }
        return s.toString();
    }
}
