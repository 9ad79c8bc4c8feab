package dev.jnorm.cli;

import java.io.PrintWriter;

/**
 * A progress bar on one line, redrawn in place ({@code [=====>    ] 12/40 what}); where the
 * output is not a terminal, a line per step (or, for {@link #show}, every 10% of the way).
 */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final int total;
    private final boolean terminal;
    private int lastTenth = -1;

    ProgressBar(PrintWriter out, int total, boolean terminal) {
        this.out = out;
        this.total = total;
        this.terminal = terminal;
    }

    /** Shows that step {@code done} of the total is starting, described by {@code what}. */
    void step(int done, String what) {
        draw(total == 0 ? WIDTH : done * WIDTH / total, done + "/" + total + " " + what);
    }

    /** Shows {@code done} of {@code total} units of work with a note, for work measured in units. */
    void show(long done, long total, String what) {
        int tenth = (int) (done * 10 / Math.max(total, 1));
        if (!terminal && tenth == lastTenth) {
            return;
        }
        lastTenth = tenth;
        draw((int) (done * WIDTH / Math.max(total, 1)), what);
    }

    private void draw(int filled, String text) {
        String bar = "[" + "=".repeat(filled) + (filled < WIDTH ? ">" + " ".repeat(WIDTH - filled - 1) : "") + "] "
                + text;
        if (terminal) {
            out.print("\r" + bar + "\u001b[K");
        } else {
            out.println(bar);
        }
        out.flush();
    }

    /** Ends the bar's line. */
    void finish() {
        if (terminal) {
            out.println();
            out.flush();
        }
    }
}
