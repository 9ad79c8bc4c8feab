package dev.jnorm.cli;

import static dev.jnorm.norm.NormSpec.Setting.AFFINE;
import static dev.jnorm.norm.NormSpec.Setting.DIM;
import static dev.jnorm.norm.NormSpec.Setting.EPS;
import static dev.jnorm.norm.NormSpec.Setting.GROUPS;
import static dev.jnorm.norm.NormSpec.Setting.MOMENTUM;
import static dev.jnorm.norm.NormSpec.Setting.NORMALIZED_DIMS;
import static dev.jnorm.norm.NormSpec.Setting.RANKS;
import static dev.jnorm.norm.NormSpec.Setting.RENORM_CLIPPING;
import static dev.jnorm.norm.NormSpec.Setting.RUNNING_STATISTICS;
import static dev.jnorm.norm.NormSpec.Setting.VIRTUAL_BATCH_SIZE;

import dev.jnorm.backend.Backend;
import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.io.NpyWriter;
import dev.jnorm.module.Parameter;
import dev.jnorm.norm.FrozenBatchNorm;
import dev.jnorm.norm.InProcessReducer;
import dev.jnorm.norm.NormConfig;
import dev.jnorm.norm.NormKind;
import dev.jnorm.norm.NormLayer;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.norm.TracksRunningStatistics;
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
import java.util.function.Predicate;
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
            "Reads little-endian float16, float32 or float64 .npy files in C order; runs the forward pass,",
            "and the backward pass when --grad-output is given. Writes to --out, output.npy and",
            "grad_input.npy in the input's dtype (float16 storage, or --storage), the rest in the dtype of",
            "the parameters (float32 for 16-bit storage, else the input's):",
            "  output.npy",
            "  grad_input.npy and grad_<param>.npy for each learnable parameter (grad_weight, grad_bias,",
            "    grad_g, grad_rho, grad_mean_weight, grad_var_weight), with --grad-output",
            "  saved_mean.npy and saved_rstd.npy in train mode: the statistics that normalized the input, one",
            "    per group (per channel, per (example, channel), per leading index, ...; a norm without a",
            "    mean saves none); a norm with two kinds of statistics adds saved_instance_mean.npy and",
            "    saved_instance_rstd.npy; Batch Renormalization adds saved_r.npy and saved_d.npy",
            "  running_mean.npy and running_var.npy in train mode when running statistics are tracked",
            "With --ranks K (sync-batch), output and grad_input are the K ranks' concatenated, the parameter",
            "gradients the ranks' added, the statistics rank 0's (every rank's are the same).",
            "Nothing is written unless the whole run succeeds. Bad input: exit status 2 and a one-line",
            "message on stderr."},
        optionListHeading = "%nOptions:%n")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--norm", required = true, paramLabel = "NORM", converter = Converters.Norm.class,
            completionCandidates = NormRegistry.Names.class, description = "One of: ${COMPLETION-CANDIDATES}.")
    NormSpec norm;

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

    @Option(names = "--storage", paramLabel = "float16|bfloat16", converter = Converters.Storage.class,
            description = "Round the input (and grad-output) to 16-bit storage and compute with it, statistics "
                    + "and parameters in float32; the files written hold the 16-bit values as float32 (NumPy "
                    + "has no bfloat16). Default: the input file's dtype.")
    DType storage;

    @Option(names = "--mode", paramLabel = "train|eval", defaultValue = "train",
            description = "train: batch statistics, running statistics updated; eval: running statistics "
                    + "where tracked (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--eps", paramLabel = "E",
            description = "Added to the variance (default 1e-5; for root-mean-square norms the machine epsilon "
                    + "of the input's dtype).")
    Double eps;

    @Option(names = "--momentum", paramLabel = "M|none",
            description = "Running-statistics momentum; none for a cumulative average (default 0.1).")
    String momentum;

    @Option(names = "--groups", paramLabel = "G", description = "The number of groups of channels (required where a "
            + "norm has groups).")
    Long groups;

    @Option(names = "--normalized-dims", paramLabel = "K",
            description = "How many trailing dims to normalize, for the norms over trailing dims (default: all "
                    + "but the first).")
    Integer normalizedDims;

    @Option(names = "--virtual-batch-size", paramLabel = "B",
            description = "Ghost BatchNorm's virtual batches: B consecutive examples each (default 32).")
    Long virtualBatchSize;

    @Option(names = "--ranks", paramLabel = "K",
            description = "SyncBatchNorm: split the batch into K contiguous local batches whose sizes differ by at "
                    + "most one, one rank each (threads of this process), their statistics reduced together "
                    + "(default 1).")
    Integer ranks;

    @Option(names = "--rmax", paramLabel = "R",
            description = "Batch Renormalization: r is clipped to [1/R, R] (at least 1; default 3).")
    Double rmax;

    @Option(names = "--dmax", paramLabel = "D",
            description = "Batch Renormalization: d is clipped to [-D, D] (non-negative; default 5).")
    Double dmax;

    @Option(names = "--affine", paramLabel = "true|false", arity = "1",
            description = "Learn a weight and bias (default: the norm's own, as PyTorch's).")
    Boolean affine;

    @Option(names = "--track-running-stats", paramLabel = "true|false", arity = "1",
            description = "Keep running statistics (default: the norm's own, as PyTorch's).")
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
            description = "For a weight's norm: the dim it keeps; none for the whole tensor (default 0).")
    String dim;

    @Option(names = "--g", paramLabel = "G.npy",
            description = "For a weight's norm: the magnitude g, one value per slice along --dim, as a vector or "
                    + "in PyTorch's keepdim shape (default ||v||).")
    Path g;

    @Option(names = "--rho", paramLabel = "R.npy", description = "The mix rho, where a norm has one (default ones).")
    Path rho;

    @Option(names = "--mean-weight", paramLabel = "MW.npy",
            description = "The 3 mean-mixing logits (instance, layer, batch), where a norm has them (default zeros).")
    Path meanWeight;

    @Option(names = "--var-weight", paramLabel = "VW.npy",
            description = "The 3 variance-mixing logits, where a norm has them (default zeros).")
    Path varWeight;

    @Override
    public Integer call() {
        checkOptions();
        boolean training = mode.equals("train");
        NpyArray file = NpyReader.read(input);
        NpyArray x = storage == null ? file : file.as(storage);
        NpyArray dy = gradOutput == null ? null : NpyReader.read(gradOutput);
        if (dy != null && storage != null) {
            dy = dy.as(storage);
        }
        Map<String, NpyArray> results;
        try (Backend compute = device.open()) {
            results = norm.reparameterizes() ? runWeightNorm(compute, x, dy) : runLayer(compute, x, dy, training);
        }
        // The data in the storage dtype (with --storage, its values in the input file's dtype, float32
        // for a float16 file), the rest in the parameters' dtype.
        DType dataFile = storage == null ? x.dtype() : file.dtype().sixteenBit() ? DType.FLOAT32 : file.dtype();
        results.replaceAll((name, array) -> name.equals("output") || name.equals("grad_input")
                ? array.as(x.dtype()).as(dataFile) : array.as(x.dtype().parameterType()));
        write(results);
        return 0;
    }

    /** Rejects values out of their sets, and options the chosen norm has no use for. */
    private void checkOptions() {
        if (!mode.equals("train") && !mode.equals("eval")) {
            throw new IllegalArgumentException("--mode must be train or eval; got '" + mode + "'");
        }
        requireSetting("--eps", eps, EPS);
        requireSetting("--affine", affine, AFFINE);
        requireSetting("--momentum", momentum, MOMENTUM);
        requireSetting("--track-running-stats", trackRunningStats, RUNNING_STATISTICS);
        require("--running-mean", runningMean, givenOr(RUNNING_STATISTICS, "running_mean"));
        require("--running-var", runningVar, givenOr(RUNNING_STATISTICS, "running_var"));
        requireSetting("--num-batches-tracked", numBatchesTracked, RUNNING_STATISTICS);
        requireSetting("--groups", groups, GROUPS);
        requireSetting("--normalized-dims", normalizedDims, NORMALIZED_DIMS);
        requireSetting("--dim", dim, DIM);
        requireSetting("--virtual-batch-size", virtualBatchSize, VIRTUAL_BATCH_SIZE);
        requireSetting("--ranks", ranks, RANKS);
        requireSetting("--rmax", rmax, RENORM_CLIPPING);
        requireSetting("--dmax", dmax, RENORM_CLIPPING);
        parameterFiles().forEach((name, file) -> require("--" + name.replace('_', '-'), file,
                spec -> spec.parameters().contains(name) || spec.fixedTensors().contains(name)));
        if (norm.settings().contains(GROUPS) && groups == null) {
            throw new IllegalArgumentException("--norm " + norm.commandName() + " needs --groups G");
        }
    }

    /** The norms with the setting, or given the fixed tensor (FrozenBatchNorm's running statistics). */
    private static Predicate<NormSpec> givenOr(NormSpec.Setting setting, String tensor) {
        return spec -> spec.settings().contains(setting) || spec.fixedTensors().contains(tensor);
    }

    private void requireSetting(String option, Object value, NormSpec.Setting setting) {
        require(option, value, spec -> spec.settings().contains(setting));
    }

    /** An option given must be one the chosen norm has: else a message naming the norms that have it. */
    private void require(String option, Object value, Predicate<NormSpec> has) {
        if (value != null && !has.test(norm)) {
            List<String> which = NormRegistry.all().stream().filter(has).map(NormSpec::commandName).toList();
            String names = which.size() == 1 ? which.get(0)
                    : String.join(", ", which.subList(0, which.size() - 1)) + " and " + which.get(which.size() - 1);
            throw new IllegalArgumentException(option + " applies to " + names + ", not to --norm "
                    + norm.commandName());
        }
    }

    /** The parameter files given, by the parameter's name. */
    private Map<String, Path> parameterFiles() {
        Map<String, Path> files = new LinkedHashMap<>();
        files.put("g", g);
        files.put("rho", rho);
        files.put("mean_weight", meanWeight);
        files.put("var_weight", varWeight);
        files.put("weight", weight);
        files.put("bias", bias);
        return files;
    }

    // ---- the norms that normalize an input ----

    /** The dtype to compute in: the input's, or float32 on a backend without it (CUDA has no float64). */
    private static DType computeType(Backend compute, NpyArray x) {
        return compute.supports(x.dtype()) ? x.dtype() : DType.FLOAT32;
    }

    private Map<String, NpyArray> runLayer(Backend compute, NpyArray x, NpyArray dy, boolean training) {
        DType dtype = computeType(compute, x);
        NormConfig config = config(x.shape());
        if (dtype != x.dtype() && config.eps().isEmpty() && norm == NormKind.RMS) {
            // RMSNorm's default eps is the input's machine epsilon: the file's, not the compute dtype's
            config = config.eps(x.dtype().machineEpsilon());
        }
        if (ranks == null) {
            return runLayer(compute, x, dy, training, config, dtype);
        }
        long n = x.shape().rank() >= 1 ? x.shape().dim(0) : 0;
        if (ranks < 1 || ranks > n) {
            throw new IllegalArgumentException("ranks must be between 1 and the batch size " + n + ", got " + ranks);
        }
        return runRanks(compute, x, dy, training, config, dtype);
    }

    /**
     * The layer on K ranks, threads of this process that meet in an {@link InProcessReducer}: rank k
     * takes the k-th of K contiguous local batches (the first N mod K one example larger). The output
     * and input gradient are the ranks' concatenated, the parameter gradients added over the ranks
     * (what data parallelism's gradient reduction gives), the statistics and running statistics rank
     * 0's (every rank's are the same). A rank's error is reported; ranks fail alike on the union's.
     */
    private Map<String, NpyArray> runRanks(Backend compute, NpyArray x, NpyArray dy, boolean training,
                                           NormConfig config, DType dtype) {
        int k = ranks;
        long n = x.shape().dim(0);
        List<Map<String, NpyArray>> parts = InProcessReducer.run(k, (r, end) -> {
            long at = r * (n / k) + Math.min(r, n % k); // the first n mod k ranks take one example more
            long size = n / k + (r < n % k ? 1 : 0);
            return runLayer(compute, x.rows(at, size), dy == null ? null : dy.rows(at, size), training,
                    config.reducer(end), dtype);
        });
        Map<String, NpyArray> results = new LinkedHashMap<>(parts.get(0));
        for (String name : List.of("output", "grad_input")) {
            if (results.containsKey(name)) {
                results.put(name, NpyArray.concatenate(parts.stream().map(p -> p.get(name)).toList()));
            }
        }
        results.replaceAll((name, a) -> !name.startsWith("grad_") || name.equals("grad_input") ? a
                : sum(parts.stream().map(p -> p.get(name)).toList()));
        return results;
    }

    private static NpyArray sum(List<NpyArray> parts) {
        double[] s = new double[parts.get(0).values().length];
        for (NpyArray p : parts) {
            for (int i = 0; i < s.length; i++) {
                s[i] += p.values()[i];
            }
        }
        return new NpyArray(parts.get(0).shape(), parts.get(0).dtype(), s);
    }

    private Map<String, NpyArray> runLayer(Backend compute, NpyArray x, NpyArray dy, boolean training,
                                           NormConfig config, DType dtype) {
        Map<String, NpyArray> results = new LinkedHashMap<>();
        try (NormLayer<?> layer = norm.build(compute, x.shape(), config, dtype);
             Tensor xt = x.toTensor(compute, dtype)) {
            loadParameters(layer);
            layer.setTraining(training);
            try (Tensor y = layer.forward(xt)) {
                results.put("output", NpyArray.of(y));
            }
            if (training && !norm.elementwise(true)) { // the statistics it took of the input
                layer.lastForward().savedStatistics().forEach((name, t) -> results.put("saved_" + name, NpyArray.of(t)));
                if (layer instanceof TracksRunningStatistics r && r.runningMean() != null) {
                    results.put("running_mean", NpyArray.of(r.runningMean()));
                    if (r.keepsVariance()) {
                        results.put("running_var", NpyArray.of(r.runningVar()));
                    }
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

    /** The configuration the options give, checked against the input's shape. */
    private NormConfig config(Shape shape) {
        NormConfig c = NormConfig.defaults();
        if (eps != null) {
            c = c.eps(eps);
        }
        if (momentum != null) {
            c = momentum.equals("none") ? c.cumulativeAverage() : c.momentum(parseNumber("--momentum", momentum));
        }
        if (affine != null) {
            c = c.affine(affine);
        }
        if (trackRunningStats != null) {
            c = c.trackRunningStats(trackRunningStats);
        }
        if (groups != null) {
            c = c.groups(groups);
        }
        if (virtualBatchSize != null) {
            if (virtualBatchSize < 1) {
                throw new IllegalArgumentException("--virtual-batch-size must be positive, got " + virtualBatchSize);
            }
            c = c.virtualBatchSize(virtualBatchSize);
        }
        if (rmax != null) {
            c = c.rmax(rmax);
        }
        if (dmax != null) {
            c = c.dmax(dmax);
        }
        if (normalizedDims != null) {
            if (normalizedDims < 0 || normalizedDims > shape.rank()) {
                throw new IllegalArgumentException("--normalized-dims must be between 1 and the input's rank "
                        + shape.rank() + ", got " + normalizedDims);
            }
            c = c.normalizedDims(normalizedDims);
        }
        return c;
    }

    private void loadParameters(NormLayer<?> layer) {
        Map<String, Path> files = parameterFiles();
        if (layer instanceof FrozenBatchNorm f) {
            load(files.remove("weight"), f.weight(), "weight");
            load(files.remove("bias"), f.bias(), "bias");
            load(runningMean, f.runningMean(), "running_mean");
            load(runningVar, f.runningVar(), "running_var");
        }
        for (Parameter p : layer.parameters()) {
            load(files.remove(p.name()), p.value(), p.name());
        }
        files.forEach((name, file) -> {
            if (file != null) {
                throw new IllegalArgumentException("--" + name.replace('_', '-') + " was given, but the layer has no "
                        + name + " (--affine false)");
            }
        });
        if (layer instanceof TracksRunningStatistics r) {
            boolean variance = r.keepsVariance();
            if (runningVar != null && !variance) {
                throw new IllegalArgumentException("--running-var was given, but --norm " + norm.commandName()
                        + " keeps no running variance");
            }
            if (r.runningMean() == null) {
                if (runningMean != null || runningVar != null || numBatchesTracked != null) {
                    throw new IllegalArgumentException(variance
                            ? "--running-mean, --running-var and --num-batches-tracked need running statistics, which "
                            + "are not tracked (--track-running-stats false)"
                            : "--running-mean and --num-batches-tracked need a running mean, which is not tracked "
                            + "(--track-running-stats false)");
                }
                return;
            }
            load(runningMean, r.runningMean(), "running_mean");
            if (variance) {
                load(runningVar, r.runningVar(), "running_var");
            }
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

    // ---- a reparameterized weight (WeightNorm): the input is the direction v ----

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
                try (Tensor dwt = dw.toTensor(compute, layer.v().value().dtype())) { // v's: float32 for 16-bit v
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
