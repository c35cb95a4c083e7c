package dev.stepwise.runtime.export;

import dev.stepwise.runtime.model.Architecture;
import java.nio.file.Path;

/** Exports a checkpoint through an architecture's forward into a validated ONNX folder. */
public final class Exporter {
    private Exporter() {
    }

    public static ExportResult export(Architecture architecture, Path checkpointDir, Path outputDir, ExportOptions options) {
        throw new UnsupportedOperationException("export is being written");
    }
}
