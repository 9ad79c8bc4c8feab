package dev.jnorm.cli;

import java.io.PrintWriter;

/**
 * A progress bar on one line, redrawn in place ({@code [=====>    ] 12/40 what}); where the
 * output is not a terminal, one line per step instead.
 */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final int total;
    private final boolean terminal;

    ProgressBar(PrintWriter out, int total, boolean terminal) {
        this.out = out;
        this.total = total;
        this.terminal = terminal;
    }

    /** Shows that step {@code done} of the total is starting, described by {@code what}. */
    void step(int done, String what) {
        int filled = total == 0 ? WIDTH : done * WIDTH / total;
        String bar = "[" + "=".repeat(filled) + (filled < WIDTH ? ">" + " ".repeat(WIDTH - filled - 1) : "") + "] "
                + done + "/" + total + " " + what;
        if (terminal) {
            out.print("\r" + bar + "\u001b[K");
        } else {
            out.println(bar);
        }
        out.flush();
    }

    void finish() {
        step(total, "done");
        if (terminal) {
            out.println();
        }
    }
}
