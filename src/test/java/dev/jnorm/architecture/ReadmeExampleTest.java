package dev.jnorm.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's API example compiles against the library alone and runs (on the CPU here). */
class ReadmeExampleTest {

    /** The first Java block after {@code heading} in README.md, as the body of a main method, with the library's imports. */
    static String program(String heading) throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        int section = readme.indexOf(heading);
        assertTrue(section >= 0, "README.md has the section " + heading);
        int start = readme.indexOf("```java\n", section) + "```java\n".length();
        String body = readme.substring(start, readme.indexOf("```", start));
        return "import dev.jnorm.backend.Backend;\nimport dev.jnorm.norm.*;\nimport dev.jnorm.tensor.*;\n"
                + "public class ReadmeExample {\n    public static void main(String[] args) throws Exception {\n"
                + body.lines().map(l -> "        " + l).collect(Collectors.joining("\n")) + "\n    }\n}\n";
    }

    @Test
    void compilesAgainstTheLibraryAndRuns(@TempDir Path dir) throws Exception {
        Path source = dir.resolve("ReadmeExample.java");
        Files.writeString(source, program("## The API in a few lines"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter errors = new StringWriter();
        boolean compiled = javac.getTask(errors, null, null, List.of("-d", dir.toString(), "-classpath",
                libraryClassPath()), null, javac.getStandardFileManager(null, null, null).getJavaFileObjects(source))
                .call();
        assertTrue(compiled, errors.toString());

        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true));
            loader.loadClass("ReadmeExample").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        assertEquals("[2, 256, 100, 152] [2, 256, 100, 152]", printed.toString().strip());
    }

    /** The library's classes and its own dependencies (JCuda, SLF4J's API), nothing of the command line. */
    private static String libraryClassPath() {
        return Stream.of(dev.jnorm.backend.Backend.class, jcuda.Pointer.class, org.slf4j.Logger.class)
                .map(c -> {
                    try {
                        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
                    } catch (URISyntaxException e) {
                        throw new IllegalStateException(e);
                    }
                }).collect(Collectors.joining(java.io.File.pathSeparator));
    }
}
