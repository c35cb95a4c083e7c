package dev.stepwise.runtime.export;

/**
 * Receives progress of long work (export, unroll), called on the working thread: {@link #stage} once per stage, then
 * {@link #advance} as its units are done, then {@link #done}. The CLI draws a progress bar from it.
 */
public interface ProgressListener {
    /** Listens to nothing: the default of the options. */
    ProgressListener SILENT = new ProgressListener() {
        @Override
        public void stage(String name, long totalUnits) {
        }

        @Override
        public void advance(long units) {
        }
    };

    /**
     * A new stage begins.
     *
     * @param name       what the stage does, a few words ({@code trace MB}, {@code validate})
     * @param totalUnits how many units the stage has (megabytes, steps, cases); 0 when unknown
     */
    void stage(String name, long totalUnits);

    /**
     * Some of the current stage's units are done.
     *
     * @param units how many more units are done since the last call
     */
    void advance(long units);

    /** The current stage is done. Does nothing by default. */
    default void done() {
    }
}
