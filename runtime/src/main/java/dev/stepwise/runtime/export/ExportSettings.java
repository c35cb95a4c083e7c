package dev.stepwise.runtime.export;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ConfigKeyMap;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import java.nio.file.Path;

/**
 * What every export (decoder, encoder, seq2seq) resolves before it traces: the opset and the validation tolerances,
 * each the options' value or else the architecture's declared one, checked once here.
 */
record ExportSettings(int opset, double atol, double rtol) {

    static ExportSettings of(ExportOptions options, int declaredOpset, double declaredAtol) {
        int opset = options.opset() > 0 ? options.opset() : declaredOpset;
        if (opset < 13 || opset > 22) {
            throw new StepwiseException("opset " + opset + " is not supported (13..22)");
        }
        double atol = Double.isNaN(options.atol()) ? declaredAtol : options.atol();
        if (!(atol > 0)) {
            throw new StepwiseException("atol must be > 0, got " + atol);
        }
        double rtol = options.effectiveRtol();
        if (!(rtol >= 0)) {
            throw new StepwiseException("rtol must be >= 0, got " + rtol);
        }
        return new ExportSettings(opset, atol, rtol);
    }

    /** A checkpoint's {@code config.json}, refused in one line when its model_type is not the exporter's. */
    static ModelConfig readConfig(Path checkpointDir, String exporterModelType, ConfigKeyMap keys) {
        Path configFile = checkpointDir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        String modelType = ModelFolder.modelType(json, configFile);
        if (!modelType.equals(exporterModelType)) {
            throw new StepwiseException(configFile + ": model_type is '" + modelType + "' but the exporter is for '"
                    + exporterModelType + "'");
        }
        return ModelConfig.of(configFile, json, keys);
    }
}
