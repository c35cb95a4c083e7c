package example;

import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.quantize.QuantizeMode;
import dev.stepwise.runtime.quantize.QuantizeOptions;
import dev.stepwise.runtime.quantize.QuantizeResult;
import java.nio.file.Path;

/**
 * Exports a Hugging Face checkpoint folder (validated against the PyTorch reference) and quantizes the export to int8
 * with the quality gate: {@code ExportAndQuantize CHECKPOINT_DIR OUT_DIR}.
 */
public final class ExportAndQuantize {
    public static void main(String[] args) {
        Path checkpoint = Path.of(args[0]);
        Path out = Path.of(args[1]);
        ExportResult exported = Stepwise.export(checkpoint, out.resolve("exported"), ExportOptions.defaults());
        System.out.println("exported " + exported.outputDir());
        QuantizeResult quantized = Stepwise.quantize(exported.outputDir(), out.resolve("int8"),
                QuantizeOptions.defaults(QuantizeMode.INT8));
        System.out.printf("quantized %s: %.1f MB -> %.1f MB%n", quantized.outputDir(), quantized.bytesBefore() / 1e6,
                quantized.bytesAfter() / 1e6);
    }
}
