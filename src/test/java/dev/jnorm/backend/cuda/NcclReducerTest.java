package dev.jnorm.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jnorm.backend.cuda.internal.EmulatedDevice;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What of the NCCL reducer runs without a GPU: a missing NCCL is a clear error when asked for (and
 * nothing else loads it), the emulator is refused, bad ranks are refused, and the documented
 * two-process example compiles against the library. {@code NcclGpuTest} runs it on a GPU.
 */
class NcclReducerTest {

    /** Null where NCCL and its bindings load here; otherwise the reducer's message. */
    static String ncclUnavailable() {
        try {
            NcclReducer.uniqueId();
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    @Test
    void aMissingNcclIsAClearErrorNotAFailedClassLoad() {
        String why = ncclUnavailable();
        assumeTrue(why != null, "NCCL loads here");
        assertTrue(why.startsWith("NCCL is not available ("), why);
        assertTrue(why.endsWith(": add org.bytedeco:cuda:12.6-9.5-1.5.11 with its natives for this platform, and "
                + "NCCL's libnccl.so.2 where the natives do not bring it (docs/sync-batch-norm.md)"), why);
        assertEquals(why, ncclUnavailable(), "and says so again, the same way");
    }

    @Test
    void refusesTheEmulatorAndBadRanks() {
        assumeTrue(EmulatedDevice.unavailableReason() == null, EmulatedDevice.unavailableReason());
        byte[] id = new byte[NcclReducer.UNIQUE_ID_BYTES];
        try (CudaBackend emulated = new CudaBackend(new EmulatedDevice(EmulatedDevice.Geometry.SMALL))) {
            assertEquals("NCCL needs a CUDA device; this backend runs on " + emulated.description(),
                    assertThrows(CudaUnavailableException.class, () -> NcclReducer.join(emulated, id, 2, 0))
                            .getMessage());
            assertEquals("rank must be between 0 and ranks − 1 = 1, got 2",
                    assertThrows(IllegalArgumentException.class, () -> NcclReducer.join(emulated, id, 2, 2))
                            .getMessage());
            assertEquals("an NCCL unique id has 128 bytes",
                    assertThrows(IllegalArgumentException.class, () -> NcclReducer.join(emulated, new byte[4], 2, 1))
                            .getMessage());
        }
    }

    @Test
    void theTwoProcessExampleCompilesAgainstTheLibrary(@TempDir Path dir) {
        Path source = Path.of("examples/sync/SyncTwoProcesses.java");
        String classPath = Stream.of(dev.jnorm.backend.Backend.class, jcuda.Pointer.class, org.slf4j.Logger.class)
                .map(NcclReducerTest::location).collect(Collectors.joining(java.io.File.pathSeparator));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter errors = new StringWriter();
        boolean compiled = javac.getTask(errors, null, null, List.of("-d", dir.toString(), "-classpath", classPath),
                null, javac.getStandardFileManager(null, null, null).getJavaFileObjects(source)).call();
        assertTrue(compiled, errors.toString());
    }

    private static String location(Class<?> c) {
        try {
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
