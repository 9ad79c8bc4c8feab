package dev.jnorm.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.RuntimeInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.ContainerLaunchException;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.ToStringConsumer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * The GPU check in the CUDA container of {@code docker/}: builds the image, runs it (ci/gpu-check.sh)
 * with every GPU, and requires that it succeeded, that GPU tests passed and that none failed. Run by {@code mvn -Pcontainer test}. Skipped, with
 * the reason printed, without a Docker engine or without the NVIDIA container runtime.
 */
@Tag("container")
class GpuContainerTest {
    private static final Path ROOT = Path.of(System.getProperty("jnorm.root", ".")).toAbsolutePath();
    private static final Pattern SUCCESSFUL = Pattern.compile("\\[\\s*(\\d+) tests successful\\s*]");
    private static final Pattern FAILED = Pattern.compile("\\[\\s*(\\d+) tests failed\\s*]");
    /** What the image is built from: the sources, not build outputs. */
    private static final List<String> CONTEXT = List.of("pom.xml", "jnorm", "src", "cuda-kernels", "ci", "docker", "bench");

    /**
     * The image is built from the files named in CONTEXT with docker/Dockerfile inside that context;
     * withDockerfilePath is deprecated, but its successor withDockerfile(Path) resolves the context
     * from the Dockerfile's own folder, which would leave the sources out.
     */
    @Test
    @SuppressWarnings("deprecation")
    void theGpuSuitePassesInTheCudaContainer() {
        String reason = unavailableReason();
        if (reason != null) {
            System.out.println("GpuContainerTest skipped: " + reason);
        }
        assumeTrue(reason == null, () -> "skipped: " + reason);
        ImageFromDockerfile image = new ImageFromDockerfile("jnorm-gpu-test", true)
                .withDockerfilePath("docker/Dockerfile")
                .withBuildArg("JNORM_COMMIT", commit());
        CONTEXT.forEach(path -> image.withFileFromPath(path, ROOT.resolve(path)));
        ToStringConsumer output = new ToStringConsumer();
        try (GenericContainer<?> container = new GenericContainer<>(image)
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withDeviceRequests(List.of(
                        new DeviceRequest().withDriver("nvidia").withCount(-1).withCapabilities(List.of(List.of("gpu"))))))
                .withLogConsumer(output)
                .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(Duration.ofMinutes(40)))) {
            try {
                container.start();
            } catch (ContainerLaunchException e) {
                fail("the GPU suite failed in the container; its output:\n" + output.toUtf8String(), e);
            }
        }
        String log = output.toUtf8String();
        assertTrue(count(SUCCESSFUL, log) > 0, "no GPU test passed in the container; its output:\n" + log);
        assertEquals(0, count(FAILED, log), log);
    }

    /** Why the container cannot run here, or null. */
    static String unavailableReason() {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            return "no Docker engine reachable (a docker client alone cannot run containers)";
        }
        Map<String, RuntimeInfo> runtimes = DockerClientFactory.instance().client().infoCmd().exec().getRuntimes();
        if (runtimes == null || !runtimes.containsKey("nvidia")) {
            return "the Docker engine has no NVIDIA container runtime (install the NVIDIA container toolkit)";
        }
        return null;
    }

    private static int count(Pattern pattern, String log) {
        Matcher m = pattern.matcher(log);
        int last = 0;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }

    private static String commit() {
        try {
            Process p = new ProcessBuilder("git", "-C", ROOT.toString(), "rev-parse", "HEAD").start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            return p.waitFor() == 0 ? out : "unknown";
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }
}
