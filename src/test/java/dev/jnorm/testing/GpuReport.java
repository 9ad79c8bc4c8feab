package dev.jnorm.testing;

import dev.jnorm.backend.cuda.CudaBackend;
import dev.jnorm.backend.cuda.CudaUnavailableException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Writes {@code docs/gpu-report.md} from a GPU test run (ci/gpu-bundle.sh's run.sh): date, device,
 * driver, commit, command, each test class with its counts, and compute-sanitizer's memcheck verdict.
 *
 * <p>Usage: {@code GpuReport REPORTS_DIR COMMIT COMMAND OUTPUT.md}, where REPORTS_DIR holds the JUnit
 * XML of the suite under {@code suite/} and, when memcheck ran, {@code memcheck.log} and its XML
 * under {@code memcheck/}.
 */
public final class GpuReport {
    private static final Pattern ERROR_SUMMARY = Pattern.compile("ERROR SUMMARY: (\\d+) errors?");

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
            throw new IllegalArgumentException("usage: GpuReport REPORTS_DIR COMMIT COMMAND OUTPUT.md");
        }
        Path reports = Path.of(args[0]);
        String report = render(device(), args[1], args[2], countsByClass(reports.resolve("suite")),
                memcheck(reports));
        Files.createDirectories(Path.of(args[3]).toAbsolutePath().getParent());
        Files.writeString(Path.of(args[3]), report);
        System.out.print(report);
    }

    private static String device() {
        try (CudaBackend cuda = CudaBackend.open()) {
            return cuda.info().toString();
        } catch (CudaUnavailableException e) {
            return "none usable (" + e.getMessage() + ")";
        }
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

    /** compute-sanitizer's verdict from {@code memcheck.log}, with the tests it ran. */
    static String memcheck(Path reports) throws IOException {
        Path log = reports.resolve("memcheck.log");
        if (!Files.exists(log)) {
            return "not run (compute-sanitizer not found on this host)";
        }
        Matcher m = ERROR_SUMMARY.matcher(Files.readString(log));
        Counts total = countsByClass(reports.resolve("memcheck")).values().stream()
                .reduce(new Counts(0, 0, 0), Counts::plus);
        String ran = total.tests() + " tests (" + total.failed() + " failed, " + total.skipped() + " skipped)";
        return m.find() ? m.group(0) + " over " + ran : "no ERROR SUMMARY in memcheck.log (did it finish?) over " + ran;
    }

    static String render(String device, String commit, String command, Map<String, Counts> counts, String memcheck) {
        StringBuilder s = new StringBuilder("# GPU test report\n\n");
        s.append("- date: ").append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).append('\n');
        s.append("- device: ").append(device).append('\n');
        s.append("- commit: ").append(commit).append('\n');
        s.append("- command: `").append(command).append("`\n\n");
        s.append("| test class | tests | passed | failed | skipped |\n| --- | ---: | ---: | ---: | ---: |\n");
        Counts total = new Counts(0, 0, 0);
        for (Map.Entry<String, Counts> e : counts.entrySet()) {
            Counts c = e.getValue();
            total = total.plus(c);
            s.append(row(e.getKey(), c));
        }
        s.append(row("**all**", total)).append('\n');
        s.append("compute-sanitizer memcheck: ").append(memcheck).append('\n');
        return s.toString();
    }

    private static String row(String name, Counts c) {
        return "| " + name + " | " + c.tests() + " | " + (c.tests() - c.failed() - c.skipped()) + " | " + c.failed()
                + " | " + c.skipped() + " |\n";
    }
}
