package dev.jnorm.cli;

import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** The {@code jnorm} command line. */
@Command(name = "jnorm",
        mixinStandardHelpOptions = true,
        version = "jnorm 0.1.0",
        usageHelpWidth = 100,
        description = "GPU-backed normalization layers for Java, with a float64 CPU reference.",
        subcommands = {RunCommand.class, BenchCommand.class, StudyCommand.class})
public final class Jnorm implements Runnable {
    /** Exit status for bad input: the message is printed on one line, without a stack trace. */
    static final int BAD_INPUT = 2;
    /** netlib's BLAS logs its expected fallback to pure Java as a warning; kept quiet here (strong reference). */
    private static final java.util.logging.Logger NETLIB = java.util.logging.Logger.getLogger("dev.ludovic.netlib");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Log which backend runs and why (by default only warnings are logged).")
    void setVerbose(boolean verbose) {
        if (verbose) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        NETLIB.setLevel(java.util.logging.Level.SEVERE);
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line with the given output and error streams; returns the exit status. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Jnorm());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((e, a) -> badInput(e.getCommandLine().getErr(),
                e.getCause() instanceof Converters.BadValue bad ? bad.getMessage() : e.getMessage()));
        cli.setExecutionExceptionHandler((e, c, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                return badInput(c.getErr(), e.getMessage());
            }
            throw e;
        });
        return cli.execute(args);
    }

    private static int badInput(PrintWriter err, String message) {
        err.println(message.replace('\n', ' '));
        err.flush();
        return BAD_INPUT;
    }
}
