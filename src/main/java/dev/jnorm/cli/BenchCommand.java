package dev.jnorm.cli;

import dev.jnorm.backend.Backend;
import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.bench.BenchCase;
import dev.jnorm.bench.BenchReport;
import dev.jnorm.bench.BenchResult;
import dev.jnorm.bench.ByteTable;
import dev.jnorm.bench.Benchmark;
import dev.jnorm.bench.Comparison;
import dev.jnorm.bench.Stopwatch;
import dev.jnorm.bench.Suites;
import dev.jnorm.norm.NormRegistry;
import dev.jnorm.tensor.DType;
import dev.jnorm.norm.NormSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jnorm bench}: times every norm forward and backward over DESIGN.md's shape suites against
 * the device's own copy bandwidth, writes the rows as JSON and CSV, and compares with PyTorch's
 * (bench/torch_baseline.py) when asked.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false, usageHelpWidth = 100,
        headerHeading = "%n", header = "Times the norms against the memory roofline (and PyTorch).",
        descriptionHeading = "%n",
        description = {
            "For each norm, forward and backward in train mode (BatchNorm also forward in eval), over the shape",
            "suites of the design: median of --runs timed runs after --warmup, each from a cold L2 (CUDA",
            "events). Each row gives the time, the minimal bytes (read x once, write y once; backward reads x",
            "and dy, writes dx), TB/s on them and the percentage of the copy bandwidth the harness measures",
            "in the same run; also the two-pass floor where a group cannot stay on chip. Writes bench.json and",
            "bench.csv to --out. Without a usable GPU it times the CPU backend on small shapes, and says so."},
        optionListHeading = "%nOptions:%n")
final class BenchCommand implements Callable<Integer> {
    /** The storage dtypes the suites run in. */
    private static final List<DType> STORAGE = List.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16);

    @Spec
    CommandSpec spec;

    @Option(names = "--suite", paramLabel = "SUITE", split = ",", defaultValue = "all",
            description = "group, batch, instance, rows, weight, ghost or all (default: ${DEFAULT-VALUE}).")
    List<String> suites;

    @Option(names = "--dtype", paramLabel = "DTYPE", split = ",", defaultValue = "all",
            description = "float32, float16, bfloat16 or all (default: ${DEFAULT-VALUE}: those the backend holds, "
                    + "saying which it skips). 16-bit cases keep parameters and statistics in float32.")
    List<String> dtypes;

    @Option(names = "--norm", paramLabel = "NORM", split = ",", defaultValue = "all",
            completionCandidates = NormRegistry.Names.class,
            description = "${COMPLETION-CANDIDATES} or all (default: ${DEFAULT-VALUE}).")
    List<String> norms;

    @Option(names = "--runs", paramLabel = "N", defaultValue = "25",
            description = "Timed runs per case, at least 20 (on the emulator, where times are not the point, at least "
                    + "1); the median is reported (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "5",
            description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Mixin
    BackendOptions device;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "bench-results",
            description = "Where bench.json and bench.csv go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--compare", paramLabel = "TORCH.json",
            description = "PyTorch's results (bench/torch_baseline.py) to print side by side with jnorm's.")
    Path compare;

    @Option(names = "--results", paramLabel = "BENCH.json",
            description = "With --compare: jnorm results from an earlier run, instead of running now.")
    Path results;

    @Option(names = "--markdown", paramLabel = "FILE.md",
            description = "Also write a Markdown table (for docs/performance.md): with --compare the comparison; "
                    + "without, the bytes an emulated run moved per case.")
    Path markdown;

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut();
        if (results != null && compare == null && markdown == null) {
            throw new IllegalArgumentException("--results goes with --compare or --markdown");
        }
        BenchReport jnorm = results != null ? BenchReport.read(results) : run(stdout);
        BenchReport torch = compare == null ? null : BenchReport.read(compare);
        if (torch != null) {
            stdout.print(Comparison.render(jnorm, torch));
        }
        if (markdown != null) {
            String table = torch != null ? Comparison.markdown(jnorm, torch) : ByteTable.markdown(jnorm);
            try {
                Files.writeString(markdown, table);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot write " + markdown + ": " + e.getMessage());
            }
        }
        stdout.flush();
        return 0;
    }

    private BenchReport run(PrintWriter stdout) {
        if (runs < 1) {
            throw new IllegalArgumentException("--runs must be at least 20 (on the emulator, at least 1), got " + runs);
        }
        List<NormSpec> chosenNorms = choose("--norm", norms, NormRegistry.names()).stream().map(NormRegistry::named)
                .toList();
        List<String> chosenSuites = choose("--suite", suites, Suites.SUITES);
        PrintWriter err = spec.commandLine().getErr();
        try (Backend b = device.open()) {
            boolean emulated = b instanceof CudaBackend c && c.emulated();
            boolean gpu = b instanceof CudaBackend && !emulated;
            if (runs < 20 && !emulated) {
                throw new IllegalArgumentException("--runs must be at least 20, got " + runs);
            }
            if (emulated) {
                err.println("emulated: the kernels run on the CPU emulator, on small shapes that take every kernel "
                        + "path; its times are this CPU's, not a GPU's; moved is the traffic the emulator counted");
            } else if (!gpu) {
                err.println("no GPU in use: timing the " + b.description() + " on small shapes; the design's shape "
                        + "suites run on the cuda backend (-v says why it was not picked)");
            }
            Stopwatch stopwatch = gpu ? Stopwatch.cuda((CudaBackend) b) : Stopwatch.host();
            long shared = b instanceof CudaBackend c ? c.info().sharedMemoryPerBlock() : 227 << 10;
            long copyBytes = gpu ? Math.min(1L << 30, ((CudaBackend) b).info().totalMemory() / 8) : 64L << 20;
            double copyTbps = Benchmark.copyTbps(b, stopwatch, copyBytes, runs);
            stdout.printf("%s: copy bandwidth %.3f TB/s (read + written)%n", b.description(), copyTbps);
            List<DType> chosenDtypes = new ArrayList<>();
            for (String name : choose("--dtype", dtypes, STORAGE.stream().map(DType::toString).toList())) {
                DType t = STORAGE.stream().filter(d -> d.toString().equals(name)).findFirst().orElseThrow();
                if (b.supports(t)) {
                    chosenDtypes.add(t);
                } else {
                    err.println("the " + b.name() + " backend has no " + t + " kernels yet: " + t + " cases skipped");
                }
            }
            List<BenchCase> cases = Suites.cases(chosenNorms, chosenSuites,
                    gpu ? Suites.Scale.GPU : emulated ? Suites.Scale.EMULATED : Suites.Scale.CPU, chosenDtypes);
            Benchmark benchmark = new Benchmark(b, stopwatch, warmup, runs, shared);
            List<BenchResult> done = new ArrayList<>();
            try (ProgressBar progress = Progress.start(err, "bench", cases.size())) {
                for (BenchCase c : cases) {
                    progress.setExtraMessage(c.key());
                    done.add(benchmark.run(c, copyTbps));
                    progress.step();
                }
                progress.setExtraMessage("done");
            }
            printTable(stdout, done);
            BenchReport report = BenchReport.of("jnorm", b.description(), copyTbps, "jnorm bench "
                    + String.join(" ", spec.commandLine().getParseResult().originalArgs()), done);
            write(report);
            stdout.println("wrote " + out.resolve("bench.json") + " and " + out.resolve("bench.csv"));
            return report;
        }
    }

    private static List<String> choose(String option, List<String> given, List<String> known) {
        if (given.equals(List.of("all"))) {
            return known;
        }
        for (String g : given) {
            if (!known.contains(g)) {
                throw new IllegalArgumentException(option + " must be among " + String.join(", ", known)
                        + " or all; got '" + g + "'");
            }
        }
        return given;
    }

    private static void printTable(PrintWriter out, List<BenchResult> results) {
        out.printf("%-15s %-8s %-5s %-22s %-8s %10s %14s %7s %7s %7s %12s%n", "norm", "pass", "mode", "shape",
                "dtype", "us", "minimal bytes", "TB/s", "%copy", "%floor", "moved/floor");
        for (BenchResult r : results) {
            BenchCase c = r.benchCase();
            String moved = r.movedBytes().isPresent()
                    ? String.format("%.3f", (double) r.movedBytes().getAsLong() / r.traffic().floorBytes()) : "-";
            out.printf("%-15s %-8s %-5s %-22s %-8s %10.1f %14d %7.3f %6.1f%% %6.1f%% %12s%n", c.norm(),
                    c.direction(), c.mode(), Arrays.toString(c.shape().dims()), c.dtype(), r.micros(),
                    r.traffic().minimalBytes(), r.tbps(),
                    r.percentOfCopy(), r.floorPercentOfCopy(), moved);
        }
    }

    private void write(BenchReport report) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        report.write(out.resolve("bench.json"), out.resolve("bench.csv"));
    }
}
