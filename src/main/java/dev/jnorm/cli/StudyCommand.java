package dev.jnorm.cli;

import dev.jnorm.backend.Backend;
import dev.jnorm.study.ImageSet;
import dev.jnorm.study.SmallBatchStudy;
import dev.jnorm.study.StudyPlot;
import dev.jnorm.tensor.DType;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jnorm study}: training studies with the norms. */
@Command(name = "study", mixinStandardHelpOptions = true, subcommands = {StudyCommand.SmallBatch.class},
        description = "Training studies with jnorm's layers.")
final class StudyCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code jnorm study small-batch}: the GroupNorm paper's Figure 1, on Fashion-MNIST. */
    @Command(name = "small-batch", mixinStandardHelpOptions = true, sortOptions = false, usageHelpWidth = 100,
            headerHeading = "%n", header = "How each norm fares as the batch shrinks, on Fashion-MNIST.",
            descriptionHeading = "%n",
            description = {
                "Trains the same small CNN (three conv-norm-ReLU blocks, pooling, a linear head) with each norm",
                "at each batch size, from the same initial weights and on the same images, with SGD (momentum",
                "0.9, weight decay 5e-4) whose learning rate scales linearly with the batch size and decays over",
                "the run (--schedule), and reports the validation error measured in evaluation mode (BatchNorm",
                "with its running statistics), mean ± sd over seeds. Writes results.csv, summary.csv and",
                "validation-error.png to --out and prints the table. The defaults are the quick study",
                "(BatchNorm and GroupNorm, about 3 minutes on 2 CPU cores); --converged trains near convergence",
                "(about 35 minutes); --full runs every norm on more data."},
            optionListHeading = "%nOptions:%n")
    static final class SmallBatch implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--norms", split = ",", paramLabel = "NORM",
                completionCandidates = StudyNorms.class,
                description = "${COMPLETION-CANDIDATES} (default: BatchNorm and GroupNorm; with --full: all).")
        List<String> norms;

        @Option(names = "--batch-sizes", split = ",", paramLabel = "B",
                description = "Batch sizes (default: 32,16,8,4,2; with --converged: 32,2).")
        List<Integer> batchSizes;

        @Option(names = "--epochs", paramLabel = "E", description = "Passes over the training images (default 2; "
                + "with --full: 3; with --converged: 6).")
        Integer epochs;

        @Option(names = "--train-images", paramLabel = "N", description = "Training images used (default 7500; "
                + "with --full: 20000; with --converged: all 60000).")
        Integer trainImages;

        @Option(names = "--val-images", paramLabel = "N", description = "Test images the error is measured on "
                + "(default 2000; with --full or --converged: all 10000).")
        Integer valImages;

        @Option(names = "--full", description = "Every norm, 20000 training and 10000 validation images, 3 epochs "
                + "with 3 seeds at 5 batch sizes (2 to 3 hours on 2 CPU cores).")
        boolean full;

        @Option(names = "--converged", description = "Near convergence: all 60000 training and 10000 test images, "
                + "6 epochs, batch sizes 32 and 2 (about 35 minutes on 2 CPU cores for BatchNorm and GroupNorm).")
        boolean converged;

        @Option(names = "--ranks", paramLabel = "K", defaultValue = "1",
                description = "Simulate K devices, data-parallel: each a replica of the network on batch/K of every "
                        + "batch, gradients averaged; BatchNorm's statistics are then per device, SyncBatchNorm's "
                        + "the whole batch's (default ${DEFAULT-VALUE}; with K > 1 the default norms are batch, "
                        + "sync-batch and group).")
        int ranks;

        @Option(names = "--dtype", paramLabel = "float32|bfloat16|float16", defaultValue = "float32",
                converter = Converters.Activations.class,
                description = "The activations' type. bfloat16 (or float16) trains in mixed precision on a GPU "
                        + "backend: 16-bit activations, float32 parameters, gradients and statistics, GEMMs on "
                        + "16-bit inputs accumulating in fp32; there is no loss scaling, which float16 usually "
                        + "needs. The CPU backend trains in float32 and says so (default: ${DEFAULT-VALUE}).")
        DType dtype;

        @Option(names = "--lr", paramLabel = "RATE", defaultValue = "0.05",
                description = "Learning rate at batch 32, scaled linearly for the others (default: ${DEFAULT-VALUE}).")
        double learningRate;

        @Option(names = "--schedule", paramLabel = "cosine|constant", defaultValue = "cosine",
                converter = Converters.Schedule.class,
                description = "The learning rate over each run's steps: cosine decays it from --lr (scaled) towards 0, "
                        + "so a run ends with settled weights and running statistics; constant keeps it "
                        + "(default: ${DEFAULT-VALUE}).")
        SmallBatchStudy.Schedule schedule;

        @Option(names = "--backend", paramLabel = "cpu|cuda|auto", defaultValue = "auto",
                description = "Where to train (default: ${DEFAULT-VALUE}).")
        String backend;

        @Option(names = "--depth", paramLabel = "D", defaultValue = "1",
                description = "Convolutions in each of the network's three stages, each with its norm and ReLU "
                        + "(default ${DEFAULT-VALUE}: the small network; 3 or more: a deep plain network, "
                        + "without residual connections, in which normalization matters).")
        int depth;

        @Option(names = "--seeds", paramLabel = "K", defaultValue = "3",
                description = "Train each cell K times, run k with seed S + 1000·k (its initial weights and image "
                        + "order), and report each cell's mean ± standard deviation, and which differences "
                        + "between norms exceed the spread (default: ${DEFAULT-VALUE}).")
        int seeds;

        @Option(names = "--seed", paramLabel = "S", defaultValue = "2018",
                description = "Seed of the initial weights and of the image order (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--data", paramLabel = "DIR",
                description = "Folder with Fashion-MNIST's IDX files (default: /usr/share/datasets/fashion-mnist, "
                        + "then data/fashion-mnist).")
        Path data;

        @Option(names = "--synthetic", description = "Train on generated images of Fashion-MNIST's shape instead.")
        boolean synthetic;

        @Option(names = "--out", paramLabel = "DIR", defaultValue = "study-results",
                description = "Where results.csv and validation-error.png go (default: ${DEFAULT-VALUE}).")
        Path out;

        @Override
        public Integer call() {
            PrintWriter stdout = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (full && converged) {
                throw new IllegalArgumentException("--full and --converged are two budgets: give one");
            }
            List<String> chosen = norms != null ? norms : full ? SmallBatchStudy.NORMS
                    : ranks > 1 ? SmallBatchStudy.DEVICE_NORMS : SmallBatchStudy.DEFAULT_NORMS;
            SmallBatchStudy.Settings settings = new SmallBatchStudy.Settings(chosen, batchSizes != null ? batchSizes
                    : converged ? List.of(32, 2) : List.of(32, 16, 8, 4, 2),
                    epochs != null ? epochs : converged ? 6 : full ? 3 : 2,
                    trainImages != null ? trainImages : converged ? 60000 : full ? 20000 : 7500,
                    valImages != null ? valImages : full || converged ? 10000 : 2000, seed, learningRate, 0.9, 5e-4,
                    ranks, dtype, seeds, depth, schedule);
            ImageSet[] sets = load(settings);
            String source = synthetic ? "synthetic" : "Fashion-MNIST";
            try (Backend b = Backend.named(backend)) {
                stdout.printf("Training on %s images: %d training and %d validation, %d epoch(s), on the %s%s%s%n",
                        source, sets[0].size(), sets[1].size(), settings.epochs(), b.description(), ranks > 1
                                ? String.format(", as %d simulated devices of batch/%d examples each", ranks, ranks)
                                : "", depth > 1 ? String.format("; a deep network of %d convolutions", 3 * depth)
                                : "");
                DType activations = SmallBatchStudy.activations(b, dtype);
                if (activations != dtype) {
                    stdout.printf("--dtype %s: the %s backend trains in %s (16-bit activations are the GPU "
                            + "backend's)%n", dtype, b.name(), activations);
                } else if (dtype != DType.FLOAT32) {
                    stdout.printf("Mixed precision: %s activations, float32 parameters, gradients and statistics%n",
                            dtype);
                }
                List<SmallBatchStudy.Result> results;
                try (BarPerRun progress = new BarPerRun(err)) {
                    results = SmallBatchStudy.run(b, sets[0], sets[1], settings, progress);
                }
                List<SmallBatchStudy.Summary> cells = SmallBatchStudy.summarize(results);
                stdout.print(table(results, cells, source, ranks));
                write(results, cells, source);
                stdout.println("wrote " + out.resolve("results.csv") + ", " + out.resolve("summary.csv") + " and "
                        + out.resolve("validation-error.png"));
            }
            stdout.flush();
            return 0;
        }

        private ImageSet[] load(SmallBatchStudy.Settings s) {
            if (synthetic) {
                return new ImageSet[] {ImageSet.synthetic(s.trainImages(), seed), ImageSet.synthetic(s.valImages(),
                        seed + 1)};
            }
            Path dir = data != null ? data : ImageSet.findFashionMnist();
            if (dir == null || !ImageSet.hasFashionMnist(dir)) {
                throw new IllegalArgumentException("Fashion-MNIST not found in " + (data != null ? data
                        : ImageSet.DEFAULT_DIRS.stream().map(Path::toString).collect(Collectors.joining(" or ")))
                        + ": install Debian's dataset-fashion-mnist package (or run ci/fetch-fashion-mnist.sh), "
                        + "give --data DIR, or use --synthetic");
            }
            ImageSet[] sets = ImageSet.fashionMnist(dir);
            return new ImageSet[] {sets[0].first(s.trainImages()), sets[1].first(s.valImages())};
        }

        static String table(List<SmallBatchStudy.Result> results, List<SmallBatchStudy.Summary> cells, String source,
                            int ranks) {
            TreeSet<Integer> batches = new TreeSet<>(java.util.Comparator.reverseOrder());
            cells.forEach(c -> batches.add(c.batchSize()));
            int runs = cells.stream().mapToInt(SmallBatchStudy.Summary::runs).max().orElse(1);
            String width = runs > 1 ? "%14s" : "%8s";
            StringBuilder s = new StringBuilder();
            SmallBatchStudy.Result first = results.get(0);
            s.append(String.format(Locale.ROOT, "%nValidation error (%%) on %d %s images held out, after %d epoch(s) on "
                    + "%d training images (%s learning rate), by %s%s%s:%n", first.valImages(), source, first.epochs(),
                    first.trainImages(), first.schedule().commandName(),
                    ranks > 1 ? "global batch size (" + ranks + " devices, batch/" + ranks + " each)" : "batch size",
                    first.dtype() == DType.FLOAT32 ? "" : ", " + first.dtype() + " activations",
                    runs > 1 ? ", mean ± standard deviation of " + runs + " seeds" : ""));
            s.append(String.format("%-16s", "norm"));
            batches.forEach(b -> s.append(String.format(width, b)));
            s.append(String.format("%12s%n", "images/s"));
            cells.stream().map(SmallBatchStudy.Summary::norm).distinct().forEach(norm -> {
                s.append(String.format("%-16s", norm));
                double rate = 0;
                int n = 0;
                for (int b : batches) {
                    var cell = cells.stream().filter(c -> c.norm().equals(norm) && c.batchSize() == b).findFirst();
                    s.append(String.format(width, cell.map(c -> runs > 1
                            ? String.format(Locale.ROOT, "%.2f ± %.2f", c.meanError(), c.sdError())
                            : String.format(Locale.ROOT, "%.2f", c.meanError())).orElse("-")));
                    if (cell.isPresent()) {
                        rate += cell.get().imagesPerSecond();
                        n++;
                    }
                }
                s.append(String.format(Locale.ROOT, "%12.0f%n", rate / Math.max(n, 1)));
            });
            if (runs > 1 && cells.stream().map(SmallBatchStudy.Summary::norm).distinct().count() > 1) {
                s.append(differences(cells, batches));
            }
            return s.toString();
        }

        /**
         * At each batch size, each norm against the best there: whether the difference of their mean
         * errors exceeds twice its standard error (√(se₁² + se₂²), about a 95 % two-sided test).
         */
        static String differences(List<SmallBatchStudy.Summary> cells, TreeSet<Integer> batches) {
            StringBuilder s = new StringBuilder("\nDifferences from the best norm at each batch size "
                    + "(beyond the spread: more than twice the standard error of the difference):\n");
            for (int b : batches) {
                List<SmallBatchStudy.Summary> at = cells.stream().filter(c -> c.batchSize() == b)
                        .sorted(java.util.Comparator.comparingDouble(SmallBatchStudy.Summary::meanError)).toList();
                if (at.size() < 2) {
                    continue;
                }
                SmallBatchStudy.Summary best = at.get(0);
                s.append(String.format(Locale.ROOT, "  batch %d: %s best (%.2f)", b, best.norm(), best.meanError()));
                for (SmallBatchStudy.Summary c : at.subList(1, at.size())) {
                    double diff = c.meanError() - best.meanError();
                    double se = Math.sqrt(c.standardError() * c.standardError()
                            + best.standardError() * best.standardError());
                    s.append(String.format(Locale.ROOT, "; %s +%.2f (2 SE %.2f, %s)", c.norm(), diff, 2 * se,
                            diff > 2 * se ? "beyond the spread" : "within the spread"));
                }
                s.append('\n');
            }
            return s.toString();
        }

        private void write(List<SmallBatchStudy.Result> results, List<SmallBatchStudy.Summary> cells, String source) {
            StringBuilder csv = new StringBuilder("norm,batch_size,seed,epochs,train_images,val_images,learning_rate,"
                    + "train_loss,val_error_pct,train_seconds,train_images_per_second,devices,dtype,schedule\n");
            for (SmallBatchStudy.Result r : results) {
                csv.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%d,%d,%.6f,%.5f,%.3f,%.2f,%.1f,%d,%s,%s%n",
                        r.norm(), r.batchSize(), r.seed(), r.epochs(), r.trainImages(), r.valImages(), r.learningRate(),
                        r.trainLoss(), r.valErrorPercent(), r.trainSeconds(), r.imagesPerSecond(), ranks, r.dtype(),
                        r.schedule().commandName()));
            }
            StringBuilder summary = new StringBuilder("norm,batch_size,runs,val_error_mean,val_error_sd,"
                    + "train_loss_mean,train_images_per_second\n");
            for (SmallBatchStudy.Summary c : cells) {
                summary.append(String.format(Locale.ROOT, "%s,%d,%d,%.3f,%.3f,%.5f,%.1f%n", c.norm(), c.batchSize(),
                        c.runs(), c.meanError(), c.sdError(), c.meanLoss(), c.imagesPerSecond()));
            }
            try {
                Files.createDirectories(out);
                Files.writeString(out.resolve("results.csv"), csv);
                Files.writeString(out.resolve("summary.csv"), summary);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            StudyPlot.write(out.resolve("validation-error.png"), cells, "Validation error vs "
                    + (ranks > 1 ? "global batch size on " + ranks + " devices, " : "batch size, ") + source
                    + (cells.get(0).runs() > 1 ? " (mean ± sd of " + cells.get(0).runs() + " seeds)" : ""));
        }
    }

    /** A progress bar per training run, over its images, with the loss and the speed. */
    private static final class BarPerRun implements SmallBatchStudy.Progress, AutoCloseable {
        private final PrintWriter err;
        private String run;
        private ProgressBar bar;

        BarPerRun(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void step(String run, long imagesDone, long imagesTotal, double loss, double learningRate,
                         double imagesPerSecond) {
            if (!run.equals(this.run)) {
                close();
                this.run = run;
                bar = Progress.start(err, run, imagesTotal);
            }
            bar.stepTo(imagesDone);
            bar.setExtraMessage(String.format(Locale.ROOT, "loss %.3f, lr %.4f, %.0f images/s", loss, learningRate,
                    imagesPerSecond));
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }

    /** The norms the study trains with, for picocli's help. */
    static final class StudyNorms implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return SmallBatchStudy.NORMS.iterator();
        }
    }
}
