package dev.stepwise.cli;

import dev.stepwise.runtime.export.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress on stderr (stdout stays for machine-readable results): a progress bar on a terminal, one line per
 * finished stage otherwise (logs and CI output stay readable).
 */
final class ConsoleProgress implements ProgressListener {
    private final boolean terminal = System.console() != null;
    private ProgressBar bar;
    private String stage;
    private long total;
    private long done;
    private long started;

    @Override
    public void stage(String name, long totalUnits) {
        done();
        stage = name;
        total = totalUnits;
        done = 0;
        started = System.nanoTime();
        if (terminal) {
            bar = new ProgressBarBuilder()
                    .setTaskName(String.format("%-9s", name))
                    .setInitialMax(totalUnits > 0 ? totalUnits : -1)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new ConsoleProgressBarConsumer(System.err))
                    .setUpdateIntervalMillis(200)
                    .continuousUpdate()
                    .build();
        }
    }

    @Override
    public void advance(long units) {
        done += units;
        if (bar != null) {
            bar.stepBy(units);
        }
    }

    @Override
    public void done() {
        if (stage == null) {
            return;
        }
        if (bar != null) {
            if (bar.getMax() > 0) {
                bar.stepTo(bar.getMax());
            }
            bar.close();
            bar = null;
        } else {
            System.err.printf("%-10s done (%d/%d) in %.1f s%n", stage, Math.min(done, total) > 0 ? Math.min(done, total) : done,
                    total, (System.nanoTime() - started) / 1e9);
        }
        stage = null;
    }
}
