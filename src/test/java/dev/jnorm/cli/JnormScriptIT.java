package dev.jnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.io.NpyArray;
import dev.jnorm.io.NpyReader;
import dev.jnorm.testing.Close;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code ./jnorm} script end to end, as a user runs it (after {@code mvn package} built the jar). */
class JnormScriptIT {
    private static final Path ROOT = Path.of(System.getProperty("jnorm.root", "."));

    private record Result(int status, String out, String err) {
    }

    private static Result jnorm(Path workDir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("jnorm").toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile("jnorm", ".out");
        Path err = Files.createTempFile("jnorm", ".err");
        Process p = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int status = p.waitFor();
        return new Result(status, Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static Path golden(String name) throws URISyntaxException {
        return Path.of(JnormScriptIT.class.getResource("/golden/" + name).toURI());
    }

    @Test
    void runWritesPyTorchsResultsIntoTheWorkingDirectoryByDefault(@TempDir Path work) throws Exception {
        Path dir = golden("group_2d_g3");
        List<String> args = new ArrayList<>(List.of("run"));
        for (String a : Files.readAllLines(dir.resolve("args"))) {
            args.add(a.endsWith(".npy") ? dir.resolve(a).toString() : a);
        }
        Result r = jnorm(work, args.toArray(String[]::new));
        assertEquals(0, r.status(), r.err());
        for (String file : new String[] {"output.npy", "grad_input.npy", "grad_weight.npy", "grad_bias.npy"}) {
            NpyArray expected = NpyReader.read(dir.resolve("expected").resolve(file));
            Close.assertClose(expected.values(), NpyReader.read(work.resolve(file)).values(), 1e-10, 1e-9, file);
        }
    }

    @Test
    void badInputExitsWith2AndOneLineOnStderr(@TempDir Path work) throws Exception {
        Path x = golden("batch_2d_train").resolve("x.npy");
        Result r = jnorm(work, "run", "--norm", "group", "--groups", "3", "--input", x.toString(), "--out", "o");
        assertEquals(2, r.status());
        assertEquals("num_channels must be divisible by num_groups\n", r.err());
        assertTrue(Files.notExists(work.resolve("o")));
    }

    @Test
    void helpListsTheRunCommand(@TempDir Path work) throws Exception {
        Result r = jnorm(work, "--help");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("run"), r.out());
    }
}
