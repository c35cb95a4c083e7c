package dev.stepwise.runtime.cli;

import dev.stepwise.runtime.export.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr (stdout stays for machine-readable results). */
final class ConsoleProgress implements ProgressListener {
    private ProgressBar bar;

    @Override
    public void stage(String name, long totalUnits) {
        done();
        bar = new ProgressBarBuilder()
                .setTaskName(String.format("%-9s", name))
                .setInitialMax(totalUnits > 0 ? totalUnits : -1)
                .setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(200)
                .continuousUpdate()
                .build();
    }

    @Override
    public void advance(long units) {
        if (bar != null) {
            bar.stepBy(units);
        }
    }

    @Override
    public void done() {
        if (bar != null) {
            if (bar.getMax() > 0) {
                bar.stepTo(bar.getMax());
            }
            bar.close();
            bar = null;
        }
    }
}
