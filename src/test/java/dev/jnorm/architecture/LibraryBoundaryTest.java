package dev.jnorm.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jnorm.norm.BatchNorm;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library stays a library: no class outside the command line, the benchmark and the study names
 * one of theirs or one of the application's optional dependencies (read from the compiled classes'
 * constant pools, where every referenced class is spelled {@code a/b/C}). OpenBLAS, netlib and NCCL's
 * bindings are named by holder classes only (OpenBlas, and nested ones), loaded only when they are
 * used.
 */
class LibraryBoundaryTest {
    private static final List<String> APPLICATION = List.of("dev/jnorm/cli/", "dev/jnorm/bench/", "dev/jnorm/study/");
    private static final Map<String, String> OPTIONAL = Map.of(
            "picocli/", "picocli", "com/fasterxml/jackson/", "Jackson", "me/tongfei/progressbar/", "progressbar",
            "org/knowm/xchart/", "XChart", "org/slf4j/simple/", "slf4j-simple", "dev/ludovic/netlib/", "netlib BLAS",
            "org/bytedeco/", "JavaCPP's presets (OpenBLAS, NCCL)");
    /** The classes that alone may name an optional dependency, loaded only when it is used. */
    private static final List<String> HOLDERS = List.of("dev/jnorm/backend/cpu/internal/CpuNetworkOps$Netlib.class",
            "dev/jnorm/backend/cpu/internal/OpenBlas.class", "dev/jnorm/backend/cpu/internal/OpenBlas$Scratch.class",
            "dev/jnorm/backend/cuda/NcclReducer$Calls.class", "dev/jnorm/backend/cuda/NcclReducer$DeviceAddress.class");

    @Test
    void libraryClassesNameNoApplicationClassAndNoOptionalDependency() throws IOException, URISyntaxException {
        Path classes = Path.of(BatchNorm.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> violations = new ArrayList<>();
        int library = 0;
        try (Stream<Path> files = Files.walk(classes.resolve("dev/jnorm"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                String name = classes.relativize(file).toString().replace('\\', '/');
                if (APPLICATION.stream().anyMatch(name::startsWith)) {
                    continue;
                }
                library++;
                String pool = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
                for (String app : APPLICATION) {
                    if (pool.contains(app)) {
                        violations.add(name + " names " + app);
                    }
                }
                OPTIONAL.forEach((prefix, artifact) -> {
                    if (pool.contains(prefix) && !HOLDERS.contains(name)) {
                        violations.add(name + " names " + artifact);
                    }
                });
            }
        }
        assertTrue(library > 100, "found the library's classes in " + classes + ": " + library);
        assertEquals(List.of(), violations);
    }
}
