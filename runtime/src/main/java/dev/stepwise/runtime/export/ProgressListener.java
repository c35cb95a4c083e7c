package dev.stepwise.runtime.export;

/** Receives progress of long work (the CLI draws a progress bar from it). */
public interface ProgressListener {
    ProgressListener SILENT = new ProgressListener() {
        @Override
        public void stage(String name, long totalUnits) {
        }

        @Override
        public void advance(long units) {
        }
    };

    /** A new stage begins; {@code totalUnits} may be 0 when unknown. */
    void stage(String name, long totalUnits);

    void advance(long units);

    /** The current stage is done. */
    default void done() {
    }
}
