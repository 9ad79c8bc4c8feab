package dev.jnorm.study;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.nn.Sequential;
import dev.jnorm.norm.NormKind;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.norm.NormSpec;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import dev.jnorm.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Trains {@link SmallCnn} with each norm at each batch size, from the same initial weights and on
 * the same sequence of images, with SGD whose learning rate scales linearly with the batch size
 * (the base rate at batch 32) and follows a {@link Schedule} over the run's steps, and reports the
 * validation error, measured in evaluation mode:
 * BatchNorm (and the batch terms of Batch-Instance and Switchable) with its running statistics, as
 * in practice.
 */
public final class SmallBatchStudy {
    /** Trains without a norm layer. */
    public static final String NO_NORM = "none";

    /**
     * WeightNorm on each convolution's weight and mean-only BatchNorm after it: the pairing
     * Salimans &amp; Kingma found best on CIFAR-10.
     */
    public static final String WEIGHT_MEAN_ONLY = "weight+mean-only";

    /**
     * The norms the study can train with: those of feature maps that take statistics of their input
     * (not FrozenBatchNorm's fixed ones), by their command-line names, {@value #WEIGHT_MEAN_ONLY} and
     * {@value #NO_NORM}.
     */
    public static final List<String> NORMS = Stream.concat(NormRegistry.all().stream()
                    .filter(n -> n.featureMaps() && !n.elementwise(true)).map(NormSpec::commandName),
            Stream.of(WEIGHT_MEAN_ONLY, NO_NORM)).toList();

    /** What the study trains unless told: BatchNorm and GroupNorm, the GroupNorm paper's contrast. */
    public static final List<String> DEFAULT_NORMS =
            List.of(NormKind.BATCH.commandName(), NormKind.GROUP.commandName());

    /**
     * What a study of devices trains unless told ({@code --ranks}): BatchNorm per device,
     * SyncBatchNorm across them, and GroupNorm, which needs neither (the seeds' segmentation advice).
     */
    public static final List<String> DEVICE_NORMS = List.of(NormKind.BATCH.commandName(),
            NormKind.SYNC_BATCH.commandName(), NormKind.GROUP.commandName());

    /** How the learning rate moves over a run's steps. */
    public enum Schedule {
        /** The base rate throughout. */
        CONSTANT,
        /**
         * Cosine decay from the base rate towards 0 over the run, step by step (SGDR without restarts,
         * Loshchilov &amp; Hutter 2017): the last steps settle the weights, and with them BatchNorm's
         * running statistics, which lag weights still moving at a constant rate.
         */
        COSINE;

        /** The factor on the base rate at step {@code step} (from 0) of {@code steps}. */
        public double factor(long step, long steps) {
            return this == CONSTANT ? 1 : 0.5 * (1 + Math.cos(Math.PI * step / steps));
        }

        /** Its command-line name. */
        public String commandName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * What to train, on how much data, and how; {@code ranks} simulated devices (threads) each take
     * 1/ranks of every batch, data-parallel ({@link DataParallel}; 1 for ordinary training);
     * {@code dtype} the activations' type (float32, or bfloat16/float16 for mixed precision on a GPU
     * backend: parameters, gradients and the optimizer stay float32); each cell trained {@code seeds}
     * times, run k with seed {@code seed + 1000·k} (its initial weights and image order); the network
     * {@link SmallCnn} of {@code depth} convolutions a stage; the learning rate following
     * {@code schedule} over each run's steps.
     */
    public record Settings(List<String> norms, List<Integer> batchSizes, int epochs, int trainImages, int valImages,
                           long seed, double baseLearningRate, double momentum, double weightDecay, int ranks,
                           DType dtype, int seeds, int depth, Schedule schedule) {
        public Settings {
            if (depth < 1) {
                throw new IllegalArgumentException("--depth must be positive, got " + depth);
            }
            if (seeds < 1) {
                throw new IllegalArgumentException("--seeds must be positive, got " + seeds);
            }
            if (dtype != DType.FLOAT32 && !dtype.sixteenBit()) {
                throw new IllegalArgumentException("--dtype must be float32, bfloat16 or float16, got " + dtype);
            }
            if (ranks < 1) {
                throw new IllegalArgumentException("--ranks must be positive, got " + ranks);
            }
            for (int b : batchSizes) {
                if (b < 1) {
                    throw new IllegalArgumentException("--batch-sizes must be positive, got " + b);
                }
                if (b % ranks != 0) {
                    throw new IllegalArgumentException("--batch-sizes must be multiples of --ranks " + ranks
                            + " (each device takes batch/ranks examples), got " + b);
                }
            }
        }

        /** Ordinary training, on one device, at a constant rate. */
        public Settings(List<String> norms, List<Integer> batchSizes, int epochs, int trainImages, int valImages,
                        long seed, double baseLearningRate, double momentum, double weightDecay) {
            this(norms, batchSizes, epochs, trainImages, valImages, seed, baseLearningRate, momentum, weightDecay, 1,
                    DType.FLOAT32, 1, 1, Schedule.CONSTANT);
        }

        /** The seed of run {@code k} of a cell. */
        public long seed(int k) {
            return seed + 1000L * k;
        }

        public double learningRate(int batchSize) {
            return baseLearningRate * batchSize / 32.0;
        }
    }

    /**
     * One trained network: its base learning rate, final training loss (mean of the last epoch),
     * validation error, and the time its training took (validation not included).
     */
    public record Result(String norm, int batchSize, int epochs, int trainImages, int valImages, double learningRate,
                         double trainLoss, double valErrorPercent, double trainSeconds, DType dtype, long seed,
                         Schedule schedule) {
        public double imagesPerSecond() {
            return (double) epochs * trainImages / trainSeconds;
        }
    }

    /**
     * A cell's runs (one per seed): the mean and sample standard deviation of their validation
     * errors (0 for one run), and their mean final training loss and speed.
     */
    public record Summary(String norm, int batchSize, int runs, double meanError, double sdError, double meanLoss,
                          double imagesPerSecond) {
        /** The standard error of the mean error. */
        public double standardError() {
            return sdError / Math.sqrt(runs);
        }
    }

    /** The results by cell (norm, batch size), in the order the cells were trained. */
    public static List<Summary> summarize(List<Result> results) {
        Map<String, List<Result>> cells = new LinkedHashMap<>();
        results.forEach(r -> cells.computeIfAbsent(r.norm() + "\u0000" + r.batchSize(), k -> new ArrayList<>()).add(r));
        List<Summary> out = new ArrayList<>();
        for (List<Result> runs : cells.values()) {
            double mean = runs.stream().mapToDouble(Result::valErrorPercent).average().orElseThrow();
            double ss = runs.stream().mapToDouble(r -> (r.valErrorPercent() - mean) * (r.valErrorPercent() - mean)).sum();
            double sd = runs.size() > 1 ? Math.sqrt(ss / (runs.size() - 1)) : 0;
            out.add(new Summary(runs.get(0).norm(), runs.get(0).batchSize(), runs.size(), mean, sd,
                    runs.stream().mapToDouble(Result::trainLoss).average().orElseThrow(),
                    runs.stream().mapToDouble(Result::imagesPerSecond).average().orElseThrow()));
        }
        return out;
    }

    /** Told about every step, to show progress: its loss and the learning rate it took. */
    public interface Progress {
        void step(String run, long imagesDone, long imagesTotal, double loss, double learningRate,
                  double imagesPerSecond);
    }

    private static final int EVAL_BATCH = 250;

    private SmallBatchStudy() {
    }

    /**
     * The activations' type {@code requested} trains with on {@code backend}: 16-bit activations are
     * the GPU backend's (and its emulator's); the CPU backend trains in float32.
     */
    public static DType activations(Backend backend, DType requested) {
        return backend instanceof CudaBackend ? requested : DType.FLOAT32;
    }

    public static List<Result> run(Backend backend, ImageSet train, ImageSet val, Settings s, Progress progress) {
        for (String norm : s.norms()) {
            if (!NORMS.contains(norm)) {
                throw new IllegalArgumentException("--norms must be among " + String.join(", ", NORMS)
                        + "; got '" + norm + "'");
            }
        }
        warmUp(backend, train, s);
        List<Result> results = new ArrayList<>();
        for (String norm : s.norms()) {
            for (int batchSize : s.batchSizes()) {
                for (int k = 0; k < s.seeds(); k++) {
                    results.add(train(backend, norm, batchSize, train, val, s, s.seed(k), progress));
                }
            }
        }
        return results;
    }

    /**
     * A few untimed steps of each norm at the largest batch size on throwaway networks, so that the
     * first timed run's images per second are not the JIT compiler's.
     */
    private static void warmUp(Backend backend, ImageSet train, Settings s) {
        int batch = Math.min(train.size(), s.batchSizes().stream().max(Integer::compare).orElseThrow());
        int[] order = permutation(train.size(), s.seed());
        for (String norm : s.norms()) {
            try (DataParallel devices = new DataParallel(norm, backend, activations(backend, s.dtype()), s.depth(),
                    s.seed(), s.ranks(), 0, 0, 0)) {
                for (int step = 0; step < WARMUP_STEPS && (step + 1) * batch <= train.size(); step++) {
                    devices.step(train, order, step * batch, batch);
                }
            }
        }
    }

    private static final int WARMUP_STEPS = 5;

    private static Result train(Backend backend, String norm, int batchSize, ImageSet train, ImageSet val, Settings s,
                                long seed, Progress progress) {
        long start = System.nanoTime();
        String run = norm + " @ " + batchSize + (s.ranks() > 1 ? " on " + s.ranks() + " devices" : "")
                + (s.seeds() > 1 ? ", seed " + seed : "");
        int steps = train.size() / batchSize;
        long total = (long) s.epochs() * steps * batchSize;
        double epochLoss = 0;
        DType dtype = activations(backend, s.dtype());
        try (DataParallel devices = new DataParallel(norm, backend, dtype, s.depth(), seed, s.ranks(),
                s.learningRate(batchSize), s.momentum(), s.weightDecay())) {
            long done = 0;
            long totalSteps = (long) s.epochs() * steps;
            for (int epoch = 0; epoch < s.epochs(); epoch++) {
                int[] order = permutation(train.size(), seed + epoch);
                epochLoss = 0;
                for (int step = 0; step < steps; step++) {
                    devices.setLearningRate(s.learningRate(batchSize)
                            * s.schedule().factor((long) epoch * steps + step, totalSteps));
                    double l = devices.step(train, order, step * batchSize, batchSize);
                    epochLoss += l / steps;
                    done += batchSize;
                    progress.step(run, done, total, l, devices.learningRate(),
                            done / ((System.nanoTime() - start) / 1e9));
                }
            }
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            double error = validationError(devices.first(), backend, val, dtype);
            return new Result(norm, batchSize, s.epochs(), steps * batchSize, val.size(), s.learningRate(batchSize),
                    epochLoss, error, trainSeconds, dtype, seed, s.schedule());
        }
    }

    /** The fraction (in percent) of {@code val} the network gets wrong, in evaluation mode. */
    static double validationError(Sequential net, Backend backend, ImageSet val, DType dtype) {
        net.setTraining(false);
        int[] order = new int[val.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int wrong = 0;
        for (int from = 0; from < val.size(); from += EVAL_BATCH) {
            int count = Math.min(EVAL_BATCH, val.size() - from);
            try (Tensor x = images(backend, val, order, from, count, dtype); Tensor logits = net.forward(x)) {
                float[] z = logits.toFloatArray();
                for (int i = 0; i < count; i++) {
                    int best = 0;
                    for (int k = 1; k < val.classes(); k++) {
                        if (z[i * val.classes() + k] > z[i * val.classes() + best]) {
                            best = k;
                        }
                    }
                    wrong += best != val.labels()[from + i] ? 1 : 0;
                }
            }
        }
        net.setTraining(true);
        return 100.0 * wrong / val.size();
    }

    /** Images {@code order[from .. from + count)} as a batch in {@code dtype} (16-bit: rounded once on the device). */
    static Tensor images(Backend backend, ImageSet data, int[] order, int from, int count, DType dtype) {
        int pixels = data.height() * data.width();
        float[] batch = new float[count * pixels];
        for (int i = 0; i < count; i++) {
            System.arraycopy(data.pixels(), order[from + i] * pixels, batch, i * pixels, pixels);
        }
        Tensor x = backend.upload(batch, Shape.of(count, 1, data.height(), data.width()));
        if (dtype == DType.FLOAT32) {
            return x;
        }
        try (x) {
            Tensor rounded = backend.empty(x.shape(), dtype);
            backend.copy(x, rounded);
            return rounded;
        }
    }

    static Tensor labels(Backend backend, ImageSet data, int[] order, int from, int count) {
        float[] y = new float[count];
        for (int i = 0; i < count; i++) {
            y[i] = data.labels()[order[from + i]];
        }
        return backend.upload(y, Shape.of(count));
    }

    /** A shuffle of 0..n−1 that depends only on the seed (Fisher–Yates). */
    static int[] permutation(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
