package dev.jnorm.testing;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Writes {@code docs/gpu-report.md} from a run of {@code ci/gpu-check.sh}: date, device, driver,
 * commit, command, the script's steps with their outcome and time, each test class of the GPU suite
 * with its counts, compute-sanitizer's verdicts (memcheck, racecheck, synccheck), and the benchmark
 * next to PyTorch's.
 *
 * <p>Usage: {@code GpuReport WORK_DIR COMMIT COMMAND OUTPUT.md}. WORK_DIR holds what the script left:
 * {@code steps.tsv} (step, outcome, seconds, note), {@code device.txt} (nvidia-smi's line), the
 * suite's JUnit XML under {@code suite/}, for each sanitizer tool {@code <tool>.log} and its run's
 * XML under {@code <tool>/} (or {@code <tool>.skipped} saying why it did not run), and
 * {@code comparison.txt}.
 */
public final class GpuReport {
    private static final Pattern ERROR_SUMMARY = Pattern.compile("ERROR SUMMARY: (\\d+) errors?");
    static final List<String> SANITIZERS = List.of("memcheck", "racecheck", "synccheck");

    /** Tests, failures (with errors) and skips of one class. */
    record Counts(int tests, int failed, int skipped) {
        Counts plus(Counts o) {
            return new Counts(tests + o.tests, failed + o.failed, skipped + o.skipped);
        }
    }

    private GpuReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            throw new IllegalArgumentException("usage: GpuReport WORK_DIR COMMIT COMMAND OUTPUT.md");
        }
        Path work = Path.of(args[0]);
        Map<String, String> sanitizers = new LinkedHashMap<>();
        for (String tool : SANITIZERS) {
            sanitizers.put(tool, sanitizer(work, tool));
        }
        String report = render(device(work), args[1], args[2], text(work.resolve("steps.tsv")),
                countsByClass(work.resolve("suite")), sanitizers, text(work.resolve("comparison.txt")));
        Files.createDirectories(Path.of(args[3]).toAbsolutePath().getParent());
        Files.writeString(Path.of(args[3]), report);
        System.out.print(report);
    }

    private static String text(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "";
    }

    /** nvidia-smi's line where the script saved it, and the device as the CUDA backend sees it. */
    private static String device(Path work) throws IOException {
        String smi = text(work.resolve("device.txt")).strip();
        String backend;
        try (CudaBackend cuda = CudaBackend.open()) {
            backend = cuda.info().toString();
        } catch (CudaUnavailableException e) {
            backend = "none usable (" + e.getMessage() + ")";
        }
        return smi.isEmpty() ? backend : smi + "; jnorm sees " + backend;
    }

    /** Per test class, the counts in the JUnit XML files of {@code dir}. */
    static Map<String, Counts> countsByClass(Path dir) {
        Map<String, Counts> counts = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            return counts;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".xml")).sorted().toList()) {
                NodeList cases = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile())
                        .getElementsByTagName("testcase");
                for (int i = 0; i < cases.getLength(); i++) {
                    Element c = (Element) cases.item(i);
                    boolean failed = c.getElementsByTagName("failure").getLength()
                            + c.getElementsByTagName("error").getLength() > 0;
                    boolean skipped = c.getElementsByTagName("skipped").getLength() > 0;
                    counts.merge(c.getAttribute("classname"), new Counts(1, failed ? 1 : 0, skipped ? 1 : 0),
                            Counts::plus);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the JUnit reports in " + dir, e);
        }
        return counts;
    }

    /** A compute-sanitizer tool's verdict from {@code <tool>.log}, with the tests it ran. */
    static String sanitizer(Path work, String tool) throws IOException {
        Path log = work.resolve(tool + ".log");
        Path skipped = work.resolve(tool + ".skipped");
        if (!Files.exists(log)) {
            return "not run (" + (Files.exists(skipped) ? Files.readString(skipped).strip()
                    : "compute-sanitizer not found on this host") + ")";
        }
        Matcher m = ERROR_SUMMARY.matcher(Files.readString(log));
        Counts total = countsByClass(work.resolve(tool)).values().stream()
                .reduce(new Counts(0, 0, 0), Counts::plus);
        String ran = total.tests() + " tests (" + total.failed() + " failed, " + total.skipped() + " skipped)";
        return m.find() ? m.group(0) + " over " + ran : "no ERROR SUMMARY in " + tool + ".log (did it finish?) over "
                + ran;
    }

    static String render(String device, String commit, String command, String steps, Map<String, Counts> counts,
                         Map<String, String> sanitizers, String comparison) {
        StringBuilder s = new StringBuilder("# GPU check report\n\n");
        s.append("- date: ").append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).append('\n');
        s.append("- device: ").append(device).append('\n');
        s.append("- commit: ").append(commit).append('\n');
        s.append("- command: `").append(command).append("`\n\n");
        if (!steps.isBlank()) {
            s.append("| step | outcome | seconds | note |\n| --- | --- | ---: | --- |\n");
            steps.lines().filter(l -> !l.isBlank()).forEach(l -> {
                String[] f = l.split("\t", -1);
                s.append("| ").append(String.join(" | ", f)).append(" |\n");
            });
            s.append('\n');
        }
        s.append("## GPU suite (JUnit tag gpu)\n\n");
        s.append("| test class | tests | passed | failed | skipped |\n| --- | ---: | ---: | ---: | ---: |\n");
        Counts total = new Counts(0, 0, 0);
        for (Map.Entry<String, Counts> e : counts.entrySet()) {
            Counts c = e.getValue();
            total = total.plus(c);
            s.append(row(e.getKey(), c));
        }
        s.append(row("**all**", total)).append('\n');
        s.append("## compute-sanitizer\n\n");
        sanitizers.forEach((tool, verdict) -> s.append("- ").append(tool).append(": ").append(verdict).append('\n'));
        if (!comparison.isBlank()) {
            s.append("\n## Benchmark against PyTorch on the same GPU\n\n```\n").append(comparison.strip())
                    .append("\n```\n");
        }
        return s.toString();
    }

    private static String row(String name, Counts c) {
        return "| " + name + " | " + c.tests() + " | " + (c.tests() - c.failed() - c.skipped()) + " | " + c.failed()
                + " | " + c.skipped() + " |\n";
    }
}
