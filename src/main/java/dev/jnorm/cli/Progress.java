package dev.jnorm.cli;

import java.io.PrintWriter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The commands' progress bars (me.tongfei's progressbar) on the error stream: redrawn in place on a
 * terminal; elsewhere (a CI log, a test's writer) a line every {@value #LOG_INTERVAL_MS} ms and one
 * at the end.
 */
final class Progress {
    private static final int LOG_INTERVAL_MS = 10_000;
    private static final int LOG_LINE = 120;

    private Progress() {
    }

    /** A bar for {@code task} over {@code max} units (0 to set later with {@code maxHint}). */
    static ProgressBar start(PrintWriter err, String task, long max) {
        ProgressBarBuilder bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
                .setStyle(ProgressBarStyle.ASCII);
        if (System.console() != null) {
            bar.setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(250);
        } else {
            String[] last = {null};
            bar.setConsumer(new DelegatingProgressBarConsumer(line -> {
                if (!line.equals(last[0])) { // the bar's last state is rendered twice as it closes
                    err.println(line);
                    err.flush();
                    last[0] = line;
                }
            }, LOG_LINE)).setUpdateIntervalMillis(LOG_INTERVAL_MS);
        }
        return bar.build();
    }
}
