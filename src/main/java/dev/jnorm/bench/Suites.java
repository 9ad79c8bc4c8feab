package dev.jnorm.bench;

import dev.jnorm.norm.NormSpec;
import dev.jnorm.tensor.DType;
import dev.jnorm.tensor.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape suites of DESIGN.md section 7, and scaled-down versions of them for the CPU backend.
 * Each norm runs on its suite; forward and backward in train mode, and forward in eval where that is
 * an elementwise pass on running statistics (BatchNorm's).
 */
public final class Suites {
    /** The suites, by name; each norm names its own ({@link NormSpec#suite()}). */
    public static final List<String> SUITES = List.of("group", "batch", "instance", "rows", "weight", "ghost");

    /** Which shapes: the design's, for a GPU; small ones, for the CPU; or those that take every kernel path on the emulator. */
    public enum Scale {
        /** DESIGN.md's suites. */
        GPU,
        /** Scaled down for the CPU backend. */
        CPU,
        /**
         * Small enough for the kernel emulator, large enough that parameters and statistics are a
         * few percent of the bytes, and together taking every kernel path on an H200's geometry:
         * rows by teams of threads, by block (with and without float4) and split across blocks; BatchNorm by
         * segments and by columns (S = 1).
         */
        EMULATED
    }

    private static final Map<String, List<Shape>> GPU = new LinkedHashMap<>();
    private static final Map<String, List<Shape>> CPU = new LinkedHashMap<>();
    private static final Map<String, List<Shape>> EMULATED = new LinkedHashMap<>();
    private static final long GROUPS = 32;

    static {
        GPU.put("group", List.of(Shape.of(2, 256, 200, 304), Shape.of(2, 256, 100, 152), Shape.of(2, 320, 64, 64),
                Shape.of(8, 640, 32, 32), Shape.of(1, 512, 128, 128), Shape.of(32, 256, 56, 56)));
        GPU.put("batch", List.of(Shape.of(256, 64, 112, 112), Shape.of(128, 256, 56, 56), Shape.of(2, 256, 200, 304),
                Shape.of(65536, 256)));
        GPU.put("instance", List.of(Shape.of(4, 64, 256, 256), Shape.of(4, 128, 64, 64), Shape.of(1, 32, 512, 512)));
        GPU.put("rows", List.of(Shape.of(4096, 768), Shape.of(4096, 1024), Shape.of(4096, 2048), Shape.of(4096, 4096),
                Shape.of(4096, 8192), Shape.of(8192, 1600), Shape.of(4096, 1000), Shape.of(4096, 2041)));
        GPU.put("weight", List.of(Shape.of(512, 512, 3, 3), Shape.of(256, 256, 3, 3), Shape.of(4096, 1024)));
        // Ghost BatchNorm's virtual batches of 32: a large batch split, each split large enough to stream
        GPU.put("ghost", List.of(Shape.of(256, 64, 56, 56), Shape.of(128, 256, 28, 28)));
        CPU.put("group", List.of(Shape.of(2, 64, 32, 32), Shape.of(4, 32, 16, 16)));
        CPU.put("batch", List.of(Shape.of(16, 32, 32, 32), Shape.of(512, 64)));
        CPU.put("instance", List.of(Shape.of(2, 16, 32, 32)));
        CPU.put("rows", List.of(Shape.of(64, 768), Shape.of(64, 1000)));
        CPU.put("weight", List.of(Shape.of(64, 64, 3, 3)));
        CPU.put("ghost", List.of(Shape.of(64, 16, 8, 8)));
        // groups of 512 and 2048 (teams), 2·32768 > 57,856 (split)
        EMULATED.put("group", List.of(Shape.of(2, 64, 16, 16), Shape.of(2, 64, 32, 32), Shape.of(1, 64, 128, 256)));
        EMULATED.put("batch", List.of(Shape.of(8, 32, 32, 32), Shape.of(4096, 64)));
        // S of 1024 (teams), 4098 (block, not a multiple of 4), 65,536 (split)
        EMULATED.put("instance", List.of(Shape.of(2, 32, 32, 32), Shape.of(2, 24, 2, 2049), Shape.of(1, 8, 256, 256)));
        // rows of 768 and 1001 (by teams of 128 and 256 threads, with and without float4), 32,768
        // (forward by block; backward split, x and dy being more than a block holds), 65,536 (split);
        // rows by block without float4 are
        // InstanceNorm's 4098. The one-pass backward writes 16 bytes per column per block, worth its
        // 40 to 80 blocks in flight only over a couple of thousand rows.
        EMULATED.put("rows", List.of(Shape.of(2048, 768), Shape.of(3072, 1001), Shape.of(64, 32768),
                Shape.of(40, 65536)));
        EMULATED.put("weight", List.of(Shape.of(256, 64, 3, 3)));
        // two virtual batches of 32 and one of 16 examples
        EMULATED.put("ghost", List.of(Shape.of(80, 32, 16, 16)));
    }

    private Suites() {
    }

    /** The float32 cases for the chosen norms and suites, on the shapes of {@code scale}. */
    public static List<BenchCase> cases(List<NormSpec> norms, List<String> suites, Scale scale) {
        return cases(norms, suites, scale, List.of(DType.FLOAT32));
    }

    /** The cases for the chosen norms and suites, on the shapes of {@code scale}, in each storage dtype. */
    public static List<BenchCase> cases(List<NormSpec> norms, List<String> suites, Scale scale, List<DType> dtypes) {
        Map<String, List<Shape>> shapes = switch (scale) {
            case GPU -> GPU;
            case CPU -> CPU;
            case EMULATED -> EMULATED;
        };
        List<BenchCase> cases = new ArrayList<>();
        for (NormSpec norm : norms) {
            if (!suites.contains(norm.suite())) {
                continue;
            }
            String name = norm.commandName();
            boolean grouped = norm.settings().contains(NormSpec.Setting.GROUPS);
            int dims = norm.settings().contains(NormSpec.Setting.NORMALIZED_DIMS) ? 1 : 0;
            for (DType dtype : dtypes) {
                for (Shape shape : shapes.get(norm.suite())) {
                    long groups = grouped ? Math.min(GROUPS, shape.dim(1)) : 0;
                    cases.add(new BenchCase(name, "forward", "train", shape, groups, dims, dtype));
                    cases.add(new BenchCase(name, "backward", "train", shape, groups, dims, dtype));
                    // where evaluation is a different kernel (elementwise, on running statistics), time it too
                    if (norm.batchStatisticsFirst(true) && norm.elementwise(false)) {
                        cases.add(new BenchCase(name, "forward", "eval", shape, groups, dims, dtype));
                    }
                }
            }
        }
        return cases;
    }
}
