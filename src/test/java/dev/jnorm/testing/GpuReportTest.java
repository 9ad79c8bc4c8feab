package dev.jnorm.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GpuReportTest {
    private static final String XML = """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuite name="JUnit Jupiter" tests="4">
              <testcase name="a" classname="dev.jnorm.backend.cuda.GpuCudaTest"/>
              <testcase name="b" classname="dev.jnorm.backend.cuda.GpuCudaTest"><failure message="x"/></testcase>
              <testcase name="c" classname="dev.jnorm.backend.cuda.GpuCudaTest"><skipped/></testcase>
              <testcase name="d" classname="dev.jnorm.cli.RunCommandTest"><error message="y"/></testcase>
            </testsuite>
            """;

    @Test
    void countsEachClassFromTheJUnitXml(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("suite"));
        Files.writeString(dir.resolve("suite/TEST-junit-jupiter.xml"), XML);
        Map<String, GpuReport.Counts> counts = GpuReport.countsByClass(dir.resolve("suite"));
        assertEquals(new GpuReport.Counts(3, 1, 1), counts.get("dev.jnorm.backend.cuda.GpuCudaTest"));
        assertEquals(new GpuReport.Counts(1, 1, 0), counts.get("dev.jnorm.cli.RunCommandTest"));
        String report = GpuReport.render("H100", "abc123", "gpu-check.sh", "suite\tpassed\t12\t\n", counts,
                Map.of("memcheck", "not run (dry run)"), "jnorm on H100\n");
        assertTrue(report.contains("| dev.jnorm.backend.cuda.GpuCudaTest | 3 | 1 | 1 | 1 |"), report);
        assertTrue(report.contains("| **all** | 4 | 1 | 2 | 1 |"), report);
        assertTrue(report.contains("| suite | passed | 12 |  |"), report);
        assertTrue(report.contains("- memcheck: not run (dry run)"), report);
        assertTrue(report.contains("```\njnorm on H100\n```"), report);
    }

    @Test
    void readsEachSanitizersVerdict(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("racecheck"));
        Files.writeString(dir.resolve("racecheck/TEST-junit-jupiter.xml"), XML);
        Files.writeString(dir.resolve("racecheck.log"), "========= COMPUTE-SANITIZER\n========= ERROR SUMMARY: 2 errors\n");
        Files.writeString(dir.resolve("synccheck.skipped"), "dry run\n");
        assertEquals("ERROR SUMMARY: 2 errors over 4 tests (2 failed, 1 skipped)", GpuReport.sanitizer(dir, "racecheck"));
        assertEquals("not run (dry run)", GpuReport.sanitizer(dir, "synccheck"));
        assertEquals("not run (compute-sanitizer not found on this host)", GpuReport.sanitizer(dir, "memcheck"));
    }
}
