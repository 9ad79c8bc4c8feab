package dev.jnorm.cli;

import dev.jnorm.backend.Backend;
import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.io.NpyWriter;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.BatchInstanceNorm;
import dev.jnorm.norm.BatchInstanceOutput;
import dev.jnorm.norm.BatchNorm;
import dev.jnorm.norm.ForwardResult;
import dev.jnorm.norm.GroupNorm;
import dev.jnorm.norm.InstanceNorm;
import dev.jnorm.norm.LayerNorm;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.NormOutput;
import dev.jnorm.norm.RMSNorm;
import dev.jnorm.norm.RunningStatsNorm;
import dev.jnorm.norm.SwitchableNorm;
import dev.jnorm.norm.SwitchableOutput;
import dev.jnorm.norm.WeightNorm;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jnorm run}: one normalization over {@code .npy} files, the file interface of the design
 * brief. Every output is computed before any file is written, so bad input writes nothing.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false, usageHelpWidth = 100,
        headerHeading = "%n", header = "Runs one normalization on .npy files.",
        descriptionHeading = "%n",
        description = {
            "Reads little-endian float32 or float64 .npy files in C order; runs the forward pass, and the",
            "backward pass when --grad-output is given. Writes to --out, in the input's dtype:",
            "  output.npy",
            "  grad_input.npy and grad_<param>.npy for each learnable parameter (grad_weight, grad_bias,",
            "    grad_g, grad_rho, grad_mean_weight, grad_var_weight), with --grad-output",
            "  saved_mean.npy and saved_rstd.npy in train mode: the statistics that normalized the input,",
            "    [C] for batch, [N, C] for instance and switchable (mixed), [N, G] for group, the leading",
            "    dims for layer and rms (rms has no saved_mean); batch-instance saves batch statistics",
            "    there and adds saved_instance_mean.npy and saved_instance_rstd.npy ([N, C])",
            "  running_mean.npy and running_var.npy in train mode when running statistics are tracked",
            "Nothing is written unless the whole run succeeds. Bad input: exit status 2 and a one-line",
            "message on stderr."},
        optionListHeading = "%nOptions:%n")
final class RunCommand implements Callable<Integer> {
    private static final List<String> RUNNING_NORMS = List.of("batch", "instance", "batch-instance", "switchable");

    @Option(names = "--norm", required = true, paramLabel = "NORM",
            description = "batch, layer, instance, group, rms, weight, batch-instance or switchable.")
    String norm;

    @Option(names = "--input", required = true, paramLabel = "X.npy",
            description = "The input [N, C, *spatial] (layer, rms: [*, normalized dims]; weight: the direction v).")
    Path input;

    @Option(names = "--grad-output", paramLabel = "DY.npy",
            description = "Gradient of the output, shaped like it; runs the backward pass.")
    Path gradOutput;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = ".",
            description = "Directory for the output files, created if needed (default: ${DEFAULT-VALUE}).")
    Path out;

    @Mixin
    BackendOptions device;

    @Option(names = "--mode", paramLabel = "train|eval", defaultValue = "train",
            description = "train: batch statistics, running statistics updated; eval: running statistics "
                    + "where tracked (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--eps", paramLabel = "E",
            description = "Added to the variance (default 1e-5; rms: the machine epsilon of the input's dtype).")
    Double eps;

    @Option(names = "--momentum", paramLabel = "M|none",
            description = "Running-statistics momentum; none for a cumulative average (default 0.1).")
    String momentum;

    @Option(names = "--groups", paramLabel = "G", description = "group: the number of groups (required).")
    Long groups;

    @Option(names = "--normalized-dims", paramLabel = "K",
            description = "layer, rms: how many trailing dims to normalize (default: all but the first).")
    Integer normalizedDims;

    @Option(names = "--affine", paramLabel = "true|false", arity = "1",
            description = "Learn a weight and bias (default true; instance: false; layer, rms: elementwise).")
    Boolean affine;

    @Option(names = "--track-running-stats", paramLabel = "true|false", arity = "1",
            description = "Keep running statistics (default true; instance: false).")
    Boolean trackRunningStats;

    @Option(names = "--weight", paramLabel = "W.npy", description = "The affine weight (default ones).")
    Path weight;

    @Option(names = "--bias", paramLabel = "B.npy", description = "The affine bias (default zeros).")
    Path bias;

    @Option(names = "--running-mean", paramLabel = "RM.npy", description = "Initial running mean (default zeros).")
    Path runningMean;

    @Option(names = "--running-var", paramLabel = "RV.npy", description = "Initial running variance (default ones).")
    Path runningVar;

    @Option(names = "--num-batches-tracked", paramLabel = "K",
            description = "Batches already tracked, for --momentum none (default 0).")
    Long numBatchesTracked;

    @Option(names = "--dim", paramLabel = "D|none",
            description = "weight: the dim kept by the norm; none for the whole tensor (default 0).")
    String dim;

    @Option(names = "--g", paramLabel = "G.npy",
            description = "weight: the magnitude g, one value per slice along --dim, as a vector or in PyTorch's "
                    + "keepdim shape (default ||v||).")
    Path g;

    @Option(names = "--rho", paramLabel = "R.npy", description = "batch-instance: the mix rho (default ones).")
    Path rho;

    @Option(names = "--mean-weight", paramLabel = "MW.npy",
            description = "switchable: the 3 mean-mixing logits, instance, layer, batch (default zeros).")
    Path meanWeight;

    @Option(names = "--var-weight", paramLabel = "VW.npy",
            description = "switchable: the 3 variance-mixing logits, instance, layer, batch (default zeros).")
    Path varWeight;

    @Override
    public Integer call() {
        checkOptions();
        boolean training = mode.equals("train");
        NpyArray x = NpyReader.read(input);
        NpyArray dy = gradOutput == null ? null : NpyReader.read(gradOutput);
        Map<String, NpyArray> results;
        try (Backend compute = device.open()) {
            results = norm.equals("weight") ? runWeightNorm(compute, x, dy) : runLayer(compute, x, dy, training);
        }
        results.replaceAll((name, array) -> array.as(x.dtype()));
        write(results);
        return 0;
    }

    /** Rejects values out of their sets, and options the chosen norm has no use for. */
    private void checkOptions() {
        if (!Jnorm.NORMS.contains(norm)) {
            throw new IllegalArgumentException("--norm must be one of " + String.join(", ", Jnorm.NORMS) + "; got '"
                    + norm + "'");
        }
        if (!mode.equals("train") && !mode.equals("eval")) {
            throw new IllegalArgumentException("--mode must be train or eval; got '" + mode + "'");
        }
        boolean running = RUNNING_NORMS.contains(norm);
        boolean hasEps = !norm.equals("weight");
        boolean hasAffine = !norm.equals("weight");
        requireApplicable("--eps", eps, hasEps, "every norm but weight");
        requireApplicable("--affine", affine, hasAffine, "every norm but weight");
        requireApplicable("--momentum", momentum, running, "batch, instance, batch-instance and switchable");
        requireApplicable("--track-running-stats", trackRunningStats, running,
                "batch, instance, batch-instance and switchable");
        requireApplicable("--running-mean", runningMean, running, "batch, instance, batch-instance and switchable");
        requireApplicable("--running-var", runningVar, running, "batch, instance, batch-instance and switchable");
        requireApplicable("--num-batches-tracked", numBatchesTracked, running,
                "batch, instance, batch-instance and switchable");
        requireApplicable("--groups", groups, norm.equals("group"), "group");
        requireApplicable("--normalized-dims", normalizedDims, norm.equals("layer") || norm.equals("rms"),
                "layer and rms");
        requireApplicable("--dim", dim, norm.equals("weight"), "weight");
        requireApplicable("--g", g, norm.equals("weight"), "weight");
        requireApplicable("--rho", rho, norm.equals("batch-instance"), "batch-instance");
        requireApplicable("--mean-weight", meanWeight, norm.equals("switchable"), "switchable");
        requireApplicable("--var-weight", varWeight, norm.equals("switchable"), "switchable");
        requireApplicable("--weight", weight, hasAffine, "every norm but weight");
        requireApplicable("--bias", bias, hasAffine && !norm.equals("rms"), "every norm but weight and rms");
        if (norm.equals("group") && groups == null) {
            throw new IllegalArgumentException("--norm group needs --groups G");
        }
    }

    private void requireApplicable(String option, Object value, boolean applies, String which) {
        if (value != null && !applies) {
            throw new IllegalArgumentException(option + " applies to " + which + ", not to --norm " + norm);
        }
    }

    // ---- the seven layers that normalize an input ----

    /** The dtype to compute in: the input's, or float32 on a backend without float64 (CUDA). */
    private static DType computeType(Backend compute, NpyArray x) {
        return compute.supports(x.dtype()) ? x.dtype() : DType.FLOAT32;
    }

    private Map<String, NpyArray> runLayer(Backend compute, NpyArray x, NpyArray dy, boolean training) {
        Map<String, NpyArray> results = new LinkedHashMap<>();
        DType dtype = computeType(compute, x);
        try (NormLayer<?> layer = buildLayer(compute, x.shape(), dtype);
             Tensor xt = x.toTensor(compute, dtype)) {
            loadParameters(layer);
            layer.setTraining(training);
            try (Tensor y = layer.forward(xt)) {
                results.put("output", NpyArray.of(y));
            }
            if (training) {
                savedStatistics(layer.lastForward(), results);
                if (layer instanceof RunningStatsNorm<?> r && r.runningMean() != null) {
                    results.put("running_mean", NpyArray.of(r.runningMean()));
                    results.put("running_var", NpyArray.of(r.runningVar()));
                }
            }
            if (dy != null) {
                try (Tensor dyt = dy.toTensor(compute, dtype);
                     Tensor dx = layer.backward(dyt)) {
                    results.put("grad_input", NpyArray.of(dx));
                }
                for (Parameter p : layer.parameters()) {
                    results.put("grad_" + p.name(), NpyArray.of(p.grad()));
                }
            }
        }
        return results;
    }

    private NormLayer<?> buildLayer(Backend compute, Shape shape, DType dtype) {
        long channels = shape.rank() >= 2 ? shape.dim(1) : 1;
        double e = eps == null ? 1e-5 : eps;
        boolean a = affine == null || affine;
        switch (norm) {
            case "group":
                // A rank-1 input gets GroupNorm's own rank message from forward, not a channel-count one.
                return GroupNorm.builder(groups, shape.rank() >= 2 ? channels : groups)
                        .eps(e).affine(a).dtype(dtype).build(compute);
            case "layer":
                return LayerNorm.builder(normalizedShape(shape)).eps(e).elementwiseAffine(a).dtype(dtype).build(compute);
            case "rms": {
                RMSNorm.Builder rms = RMSNorm.builder(normalizedShape(shape)).elementwiseAffine(a).dtype(dtype);
                return (eps == null ? rms : rms.eps(eps)).build(compute);
            }
            default: {
                RunningStatsNorm.Builder<?> b = runningStatsBuilder(channels).eps(e).dtype(dtype);
                Double m = parseMomentum();
                return (m == null ? b.cumulativeAverage() : b.momentum(m)).build(compute);
            }
        }
    }

    private RunningStatsNorm.Builder<?> runningStatsBuilder(long channels) {
        RunningStatsNorm.Builder<?> b = switch (norm) {
            case "batch" -> BatchNorm.builder(channels);
            case "instance" -> InstanceNorm.builder(channels);
            case "batch-instance" -> BatchInstanceNorm.builder(channels);
            case "switchable" -> SwitchableNorm.builder(channels);
            default -> throw new IllegalStateException("not a running-statistics norm: " + norm);
        };
        if (affine != null) {
            b.affine(affine);
        }
        if (trackRunningStats != null) {
            b.trackRunningStats(trackRunningStats);
        }
        return b;
    }

    private long[] normalizedShape(Shape shape) {
        int k = normalizedDims == null ? Math.max(shape.rank() - 1, 0) : normalizedDims;
        if (k < 0 || k > shape.rank()) {
            throw new IllegalArgumentException("--normalized-dims must be between 1 and the input's rank "
                    + shape.rank() + ", got " + k);
        }
        return shape.slice(shape.rank() - k, shape.rank()).dims();
    }

    private Double parseMomentum() {
        if (momentum == null) {
            return 0.1;
        }
        if (momentum.equals("none")) {
            return null;
        }
        return parseNumber("--momentum", momentum);
    }

    private void loadParameters(NormLayer<?> layer) {
        Map<String, Path> files = new LinkedHashMap<>();
        files.put("weight", weight);
        files.put("bias", bias);
        files.put("rho", rho);
        files.put("mean_weight", meanWeight);
        files.put("var_weight", varWeight);
        for (Parameter p : layer.parameters()) {
            load(files.remove(p.name()), p.value(), p.name());
        }
        files.forEach((name, file) -> {
            if (file != null) {
                throw new IllegalArgumentException("--" + name.replace('_', '-') + " was given, but the layer has no "
                        + name + " (--affine false)");
            }
        });
        if (layer instanceof RunningStatsNorm<?> r) {
            if (r.runningMean() == null) {
                if (runningMean != null || runningVar != null || numBatchesTracked != null) {
                    throw new IllegalArgumentException("--running-mean, --running-var and --num-batches-tracked need "
                            + "running statistics, which are not tracked (--track-running-stats false)");
                }
                return;
            }
            load(runningMean, r.runningMean(), "running_mean");
            load(runningVar, r.runningVar(), "running_var");
            if (numBatchesTracked != null) {
                r.setNumBatchesTracked(numBatchesTracked);
            }
        }
    }

    private static void load(Path file, Tensor target, String name) {
        if (file != null) {
            load(NpyReader.read(file), target, name);
        }
    }

    private static void load(NpyArray a, Tensor target, String name) {
        if (a.values().length != target.numel()) {
            throw new IllegalArgumentException(name + " should contain " + target.numel() + " elements not "
                    + a.values().length);
        }
        target.copyFrom(a.values());
    }

    private static void savedStatistics(ForwardResult forward, Map<String, NpyArray> results) {
        if (forward instanceof NormOutput o) {
            if (o.mean() != null) {
                results.put("saved_mean", NpyArray.of(o.mean()));
            }
            results.put("saved_rstd", NpyArray.of(o.rstd()));
        } else if (forward instanceof BatchInstanceOutput o) {
            results.put("saved_mean", NpyArray.of(o.statistics().batchMean()));
            results.put("saved_rstd", NpyArray.of(o.statistics().batchRstd()));
            results.put("saved_instance_mean", NpyArray.of(o.statistics().instanceMean()));
            results.put("saved_instance_rstd", NpyArray.of(o.statistics().instanceRstd()));
        } else if (forward instanceof SwitchableOutput o) {
            results.put("saved_mean", NpyArray.of(o.statistics().mean()));
            results.put("saved_rstd", NpyArray.of(o.statistics().rstd()));
        }
    }

    // ---- WeightNorm: the input is the direction v ----

    private Map<String, NpyArray> runWeightNorm(Backend compute, NpyArray v, NpyArray dw) {
        Map<String, NpyArray> results = new LinkedHashMap<>();
        Integer d = parseDim();
        try (Tensor vt = v.toTensor(compute, computeType(compute, v));
             WeightNorm layer = (d == null ? WeightNorm.builder().wholeTensor() : WeightNorm.builder().dim(d)).build(vt)) {
            Shape gShape = Shape.of(layer.g().value().numel());
            if (g != null) {
                NpyArray given = NpyReader.read(g);
                load(given, layer.g().value(), "g");
                gShape = given.shape();
            }
            try (Tensor w = layer.forward()) {
                results.put("output", NpyArray.of(w));
            }
            if (dw != null) {
                try (Tensor dwt = dw.toTensor(compute, vt.dtype())) {
                    layer.backward(dwt);
                }
                results.put("grad_input", NpyArray.of(layer.v().grad()));
                NpyArray gradG = NpyArray.of(layer.g().grad());
                results.put("grad_g", new NpyArray(gShape, gradG.dtype(), gradG.values()));
            }
        }
        return results;
    }

    private Integer parseDim() {
        if (dim == null) {
            return 0;
        }
        if (dim.equals("none")) {
            return null;
        }
        try {
            return Integer.parseInt(dim);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--dim must be an integer or none; got '" + dim + "'");
        }
    }

    private static double parseNumber(String option, String text) {
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a number or none; got '" + text + "'");
        }
    }

    private void write(Map<String, NpyArray> results) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + out, e);
        }
        results.forEach((name, array) -> NpyWriter.write(out.resolve(name + ".npy"), array));
    }
}
