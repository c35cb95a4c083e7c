package dev.stepwise.runtime.export;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.Optimize;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code stepwise.json}, the description every export folder carries: the fields all formats share, written here;
 * each exporter adds the files and graphs of its own format.
 */
final class ExportManifest {
    private ExportManifest() {
    }

    /** The fields every format's manifest starts with. */
    static JsonObject common(String format, String modelType, Task task, ExportSettings settings, DType dtype) {
        JsonObject m = new JsonObject();
        m.addProperty("format", format);
        m.addProperty("model_type", modelType);
        m.addProperty("task", task.cliName());
        m.addProperty("opset", settings.opset());
        m.addProperty("dtype", dtype == DType.FLOAT16 ? "fp16" : "fp32");
        m.addProperty("atol", settings.atol());
        m.addProperty("rtol", settings.rtol());
        return m;
    }

    /** Records a fused export's operators; a plain export has no {@code optimize} key, as before it existed. */
    static void putOptimize(JsonObject manifest, Optimize optimize) {
        if (optimize != Optimize.PLAIN) {
            manifest.addProperty("optimize", optimize.cliName());
        }
    }

    static void write(Path dir, JsonObject manifest) {
        Path file = dir.resolve(Exporter.MANIFEST_FILE);
        try {
            Files.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(manifest),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw OutputFolder.writeFailure("write", file, e);
        }
    }
}
