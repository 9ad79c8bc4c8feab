import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Generates the CUDA backend's typed kernel launches from the kernels' C declarations, at build
 * time (Maven runs it as a single-file program: {@code java GenerateKernelLaunches.java
 * cuda-kernels OUT_DIR}).
 *
 * <p>Every {@code KERNEL}, {@code STREAMING_KERNEL}, {@code SHARED_KERNEL}, {@code BIG_KERNEL}, {@code BIG_SHARED_KERNEL} or
 * {@code BIG_CLUSTER_SHARED_KERNEL} (thread-block clusters of {@code CLUSTER_BLOCKS}, only in a {@code *_sm90.cu}) entry point of
 * {@code cuda-kernels/*.cu}, also those a function-like macro declares, becomes
 * <ul>
 *   <li>a constant of the enum {@code Kernel}: its C name, its file (PTX module), its block size
 *       (the {@code __launch_bounds__} its macro sets), whether it may use more than 48 KiB of
 *       dynamic shared memory, its blocks per thread-block cluster (1 without), and its parameters
 *       (name, kind, C type);</li>
 *   <li>a launch class in {@code Kernels} with one setter per parameter, named as in C (camel case)
 *       and typed by its kind ({@code DevicePointer}, {@code int}, {@code long}, {@code float}), so
 *       launch code names every argument, a wrong kind does not compile, and a missing one is
 *       refused at launch. Kernels with the same parameters (a scalar and a vector variant, say)
 *       share an interface of those setters, for code that picks one at run time.</li>
 * </ul>
 */
public final class GenerateKernelLaunches {
    private static final String PACKAGE = "dev.jnorm.backend.cuda.internal";
    private static final Pattern DECLARATION =
            Pattern.compile("(?<![\\w])(BIG_CLUSTER_SHARED_KERNEL|BIG_SHARED_KERNEL|SHARED_KERNEL|BIG_KERNEL|STREAMING_KERNEL|KERNEL)"
                    + "\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern MACRO = Pattern.compile("(?m)^#define\\s+(\\w+)\\(([^)]*)\\)((?:[^\\n]*\\\\\\n)*[^\\n]*)");
    private static final Pattern BLOCK = Pattern.compile("(?m)^#define\\s+(KERNEL_BLOCK|BIG_BLOCK|CLUSTER_BLOCKS)\\s+(\\d+)");

    record Parameter(String name, String type, String kind) {
    }

    record Declaration(String entry, String module, int block, boolean optIn, int cluster, List<Parameter> parameters) {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: java GenerateKernelLaunches.java CUDA_KERNELS_DIR OUT_DIR");
        }
        Path kernels = Path.of(args[0]);
        Map<String, Integer> blocks = new LinkedHashMap<>();
        Matcher b = BLOCK.matcher(Files.readString(kernels.resolve("common.cuh")));
        while (b.find()) {
            blocks.put(b.group(1), Integer.parseInt(b.group(2)));
        }
        List<Declaration> declarations = new ArrayList<>();
        try (Stream<Path> files = Files.list(kernels)) {
            for (Path cu : files.filter(f -> f.toString().endsWith(".cu")).sorted().toList()) {
                declarations.addAll(declarations(cu, blocks));
            }
        }
        Path out = Path.of(args[1]).resolve(PACKAGE.replace('.', '/'));
        Files.createDirectories(out);
        write(out.resolve("Kernel.java"), kernelEnum(declarations));
        write(out.resolve("Kernels.java"), launches(declarations));
    }

    private static void write(Path file, String text) throws IOException {
        if (!Files.exists(file) || !Files.readString(file).equals(text)) {
            Files.writeString(file, text);
        }
    }

    static List<Declaration> declarations(Path cu, Map<String, Integer> blocks) throws IOException {
        String module = cu.getFileName().toString().replace(".cu", "");
        String text = stripComments(Files.readString(cu));
        // Expand the function-like macros invoked at the start of a line (those that declare kernels),
        // then drop every #define.
        Matcher m = MACRO.matcher(text);
        Map<String, String[]> macros = new LinkedHashMap<>();
        while (m.find()) {
            macros.put(m.group(1), new String[] {m.group(2), m.group(3).replace("\\\n", "\n")});
        }
        // (each continued line ends in a backslash; a greedy first line would swallow it and stop)
        text = text.replaceAll("(?m)^#define(?:[^\\n]*\\\\\\n)*[^\\n]*", "");
        for (Map.Entry<String, String[]> macro : macros.entrySet()) {
            String[] params = split(macro.getValue()[0]);
            Matcher call = Pattern.compile("(?m)^" + macro.getKey() + "\\(([^)]*)\\)").matcher(text);
            StringBuilder expanded = new StringBuilder();
            while (call.find()) {
                String[] actual = split(call.group(1));
                String body = macro.getValue()[1];
                for (int i = 0; i < params.length; i++) {
                    body = body.replaceAll("\\b" + Pattern.quote(params[i].trim()) + "\\b",
                            Matcher.quoteReplacement(actual[i].trim()));
                }
                call.appendReplacement(expanded, Matcher.quoteReplacement(body));
            }
            call.appendTail(expanded);
            text = expanded.toString();
        }
        List<Declaration> found = new ArrayList<>();
        Matcher d = DECLARATION.matcher(text);
        while (d.find()) {
            String kind = d.group(1);
            int block = blocks.get(kind.startsWith("BIG_") ? "BIG_BLOCK" : "KERNEL_BLOCK");
            List<Parameter> parameters = new ArrayList<>();
            for (String p : split(d.group(3))) {
                String decl = p.trim().replaceAll("\\s+", " ");
                int space = decl.lastIndexOf(' ');
                String type = decl.substring(0, space);
                parameters.add(new Parameter(decl.substring(space + 1), type, kindOf(type, d.group(2))));
            }
            int cluster = kind.contains("CLUSTER") ? blocks.get("CLUSTER_BLOCKS") : 1;
            if ((cluster > 1) != module.endsWith("_sm90")) {
                throw new IllegalArgumentException(d.group(2) + " in " + module + ".cu: kernels with thread-block clusters"
                        + " (BIG_CLUSTER_SHARED_KERNEL), and only they, live in the *_sm90.cu files compiled for compute_90");
            }
            found.add(new Declaration(d.group(2), module, block, kind.endsWith("SHARED_KERNEL"), cluster, parameters));
        }
        return found;
    }

    private static String kindOf(String type, String kernel) {
        if (type.startsWith("In<") || type.startsWith("Out<")) {
            return "POINTER";
        }
        return switch (type) {
            case "int" -> "INT";
            case "i64" -> "LONG";
            case "float" -> "FLOAT";
            default -> throw new IllegalArgumentException(kernel + ": a parameter of type " + type
                    + ", which kernels do not take (In<T>, Out<T>, int, i64 or float)");
        };
    }

    /** Splits a parameter list on the commas outside angle brackets. */
    private static String[] split(String list) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            depth += c == '<' ? 1 : c == '>' ? -1 : 0;
            if (c == ',' && depth == 0) {
                parts.add(list.substring(start, i));
                start = i + 1;
            }
        }
        if (!list.isBlank()) {
            parts.add(list.substring(start));
        }
        return parts.toArray(String[]::new);
    }

    private static String javaType(Parameter p) {
        return switch (p.kind()) {
            case "POINTER" -> "DevicePointer";
            case "INT" -> "int";
            case "LONG" -> "long";
            default -> "float";
        };
    }

    /** The longest common prefix of the kernels' names, without a trailing underscore. */
    private static String commonPrefix(List<Declaration> group) {
        String prefix = group.get(0).entry();
        for (Declaration d : group) {
            while (!d.entry().startsWith(prefix)) {
                prefix = prefix.substring(0, prefix.length() - 1);
            }
        }
        return prefix.replaceAll("_+$", "");
    }

    private static String stripComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    }

    private static String constant(String entry) {
        return entry.toUpperCase(Locale.ROOT);
    }

    private static String camel(String snake, boolean upperFirst) {
        StringBuilder s = new StringBuilder();
        boolean up = upperFirst;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                s.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return s.toString();
    }

    private static String signature(Declaration d) {
        StringBuilder s = new StringBuilder(d.entry()).append('(');
        for (int i = 0; i < d.parameters().size(); i++) {
            Parameter p = d.parameters().get(i);
            s.append(i > 0 ? ", " : "").append(p.type().replace("<", "&lt;").replace(">", "&gt;")).append(' ')
                    .append(p.name());
        }
        return s.append(')').toString();
    }

    private static final String HEADER = """
            package %s;

            // Generated at build time by src/build/java/GenerateKernelLaunches.java from the declarations in
            // cuda-kernels/*.cu: edit those, not this file.

            """.formatted(PACKAGE);

    static String kernelEnum(List<Declaration> declarations) {
        StringBuilder s = new StringBuilder(HEADER).append("""
                import java.util.List;

                /**
                 * The kernels of {@code cuda-kernels/}, as their {@code extern "C"} declarations give them: the
                 * file (PTX module) each lives in, the block size its {@code __launch_bounds__} set, whether it may
                 * take more than 48 KiB of dynamic shared memory (declared {@code SHARED_KERNEL}: the device sets
                 * the opt-in attribute), and its parameters. Launch them through {@link Kernels}.
                 */
                public enum Kernel {
                """);
        for (int k = 0; k < declarations.size(); k++) {
            Declaration d = declarations.get(k);
            s.append("    /** {@code ").append(signature(d)).append("} in ").append(d.module()).append(".cu. */\n");
            s.append("    ").append(constant(d.entry())).append("(\"").append(d.module()).append("\", ")
                    .append(d.block()).append(", ").append(d.optIn()).append(", ").append(d.cluster()).append(", List.of(");
            for (int i = 0; i < d.parameters().size(); i++) {
                Parameter p = d.parameters().get(i);
                s.append(i > 0 ? ",\n            " : "\n            ").append("new Parameter(\"").append(p.name())
                        .append("\", Parameter.Kind.").append(p.kind()).append(", \"").append(p.type()).append("\")");
            }
            s.append("))").append(k == declarations.size() - 1 ? ";\n\n" : ",\n");
        }
        s.append("""
                    /**
                     * A parameter of a kernel: its C name, what the launch passes for it (a device pointer, an
                     * {@code int}, a {@code long long} or a {@code float}), and its C type.
                     */
                    public record Parameter(String name, Kind kind, String type) {
                        /** What a launch passes for a parameter. */
                        public enum Kind { POINTER, INT, LONG, FLOAT }
                    }

                    private final String module;
                    private final int block;
                    private final boolean dynamicShared;
                    private final int cluster;
                    private final List<Parameter> parameters;

                    Kernel(String module, int block, boolean dynamicShared, int cluster, List<Parameter> parameters) {
                        this.module = module;
                        this.block = block;
                        this.dynamicShared = dynamicShared;
                        this.cluster = cluster;
                        this.parameters = parameters;
                    }

                    /** The C name of the kernel. */
                    public String entry() {
                        return name().toLowerCase(java.util.Locale.ROOT);
                    }

                    /** The PTX module, {@code <module>.ptx} under {@code dev/jnorm/kernels/}, built from {@code cuda-kernels/<module>.cu}. */
                    public String module() {
                        return module;
                    }

                    /** The threads per block it is declared for, and launched with. */
                    public int block() {
                        return block;
                    }

                    /** True when launches may ask for more dynamic shared memory than the default 48 KiB. */
                    public boolean dynamicShared() {
                        return dynamicShared;
                    }

                    /**
                     * The blocks of each thread-block cluster it runs in ({@code __cluster_dims__}), 1 for a kernel
                     * without clusters. A kernel with clusters is compiled for compute capability 9.0 (its module
                     * loads only there) and launched with a grid of whole clusters.
                     */
                    public int cluster() {
                        return cluster;
                    }

                    /** Its parameters, in order. */
                    public List<Parameter> parameters() {
                        return parameters;
                    }
                }
                """);
        return s.toString();
    }

    static String launches(List<Declaration> declarations) {
        StringBuilder s = new StringBuilder(HEADER).append("""
                /**
                 * A launch for each kernel of {@link Kernel}: set every parameter by its name, then launch, for
                 * example {@code Kernels.relu().x(in).y(out).n(count).launch(backend, grid)}. A setter takes its
                 * parameter's kind only, so a wrong kind does not compile; a launch with a parameter unset is
                 * refused.
                 */
                public final class Kernels {
                    private Kernels() {
                    }
                """);
        for (Declaration d : declarations) {
            String type = camel(d.entry(), true);
            s.append("\n    /** A launch of {@code ").append(signature(d)).append("} (").append(d.module())
                    .append(".cu). */\n");
            s.append("    public static ").append(type).append(' ').append(camel(d.entry(), false)).append("() {\n")
                    .append("        return new ").append(type).append("();\n    }\n");
        }
        // Kernels share a launch interface when their parameters are the same but for the storage type
        // (float, Half, BFloat16: the variants of one templated kernel) and their names begin with the
        // same word (relu_f16 and widen_f16 take the same arguments, but no code picks between them).
        Map<List<String>, List<Declaration>> shared = new LinkedHashMap<>();
        for (Declaration d : declarations) {
            List<String> key = new ArrayList<>(List.of(d.entry().split("_")[0]));
            d.parameters().forEach(p -> key.add(p.name() + " " + p.kind() + " "
                    + p.type().replaceAll("\\b(Half|BFloat16)\\b", "float")));
            shared.computeIfAbsent(key, k -> new ArrayList<>()).add(d);
        }
        Map<Declaration, String> sharedBy = new LinkedHashMap<>();
        for (List<Declaration> group : shared.values()) {
            if (group.size() < 2) {
                continue;
            }
            String name = camel(commonPrefix(group), true) + "Args";
            group.forEach(d -> sharedBy.put(d, name));
            s.append("\n    /**\n     * The arguments ");
            for (int i = 0; i < group.size(); i++) {
                s.append(i == 0 ? "" : i == group.size() - 1 ? " and " : ", ").append("{@code ")
                        .append(group.get(i).entry()).append('}');
            }
            s.append(" share, for code that picks one of them at run time.\n     */\n");
            s.append("    public interface ").append(name).append(" {\n");
            for (Parameter p : group.get(0).parameters()) {
                s.append("        ").append(name).append(' ').append(camel(p.name(), false)).append('(')
                        .append(javaType(p)).append(" value);\n\n");
            }
            s.append("        void launch(KernelLaunch.Launcher launcher, long grid, int sharedBytes);\n\n")
                    .append("        void launch(KernelLaunch.Launcher launcher, long grid);\n    }\n");
        }
        for (Declaration d : declarations) {
            String type = camel(d.entry(), true);
            s.append("\n    /** The arguments of {@code ").append(signature(d)).append("}. */\n");
            s.append("    public static final class ").append(type).append(" extends KernelLaunch<").append(type)
                    .append(">");
            if (sharedBy.containsKey(d)) {
                s.append(" implements ").append(sharedBy.get(d));
            }
            s.append(" {\n");
            s.append("        private ").append(type).append("() {\n            super(Kernel.")
                    .append(constant(d.entry())).append(");\n        }\n");
            for (int i = 0; i < d.parameters().size(); i++) {
                Parameter p = d.parameters().get(i);
                s.append("\n        /** {@code ").append(p.type().replace("<", "&lt;").replace(">", "&gt;")).append(' ')
                        .append(p.name()).append("}. */\n");
                if (sharedBy.containsKey(d)) {
                    s.append("        @Override\n");
                }
                s.append("        public ").append(type).append(' ').append(camel(p.name(), false)).append('(')
                        .append(javaType(p)).append(" value) {\n            return set(").append(i)
                        .append(", value);\n        }\n");
            }
            s.append("    }\n");
        }
        return s.append("}\n").toString();
    }
}
