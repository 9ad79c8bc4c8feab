package dev.jnorm.testing;

import dev.jnorm.cli.Jnorm;
import java.io.PrintWriter;
import java.io.StringWriter;

/** One in-process run of the command line: exit status, standard output and standard error. */
public record CliRun(int status, String out, String err) {

    public static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Jnorm.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new CliRun(status, out.toString(), err.toString());
    }
}
