package dev.jnorm.norm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Every norm by its command-line name: the built-in {@link NormKind}s, then the {@link NormSpec}s
 * that the class path provides as services ({@code META-INF/services/dev.jnorm.norm.NormSpec}), so
 * a norm of one's own reaches the command line, the benchmark and the study without changing them.
 */
public final class NormRegistry {
    private static final List<NormSpec> ALL = load();

    private NormRegistry() {
    }

    private static List<NormSpec> load() {
        List<NormSpec> all = new ArrayList<>(Arrays.asList(NormKind.values()));
        for (NormSpec extra : ServiceLoader.load(NormSpec.class)) {
            if (all.stream().anyMatch(s -> s.commandName().equals(extra.commandName()))) {
                throw new IllegalStateException("two norms are named " + extra.commandName());
            }
            all.add(extra);
        }
        return Collections.unmodifiableList(all);
    }

    /**
     * Every norm, the built-in ones first, in their order.
     *
     * @return the norms
     */
    public static List<NormSpec> all() {
        return ALL;
    }

    /**
     * Every norm's command-line name, in {@link #all()}'s order.
     *
     * @return the names
     */
    public static List<String> names() {
        return ALL.stream().map(NormSpec::commandName).toList();
    }

    /**
     * The norm called {@code name}.
     *
     * @param name a command-line name
     * @return its norm
     * @throws IllegalArgumentException naming the norms there are
     */
    public static NormSpec named(String name) {
        return ALL.stream().filter(s -> s.commandName().equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("--norm must be one of " + String.join(", ", names()) + "; got '" + name
                        + "'"));
    }

    /** The names, for picocli's completion candidates (which its help texts list). */
    public static final class Names implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return names().iterator();
        }
    }
}
