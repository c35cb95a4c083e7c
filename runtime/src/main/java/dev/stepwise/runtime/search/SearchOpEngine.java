package dev.stepwise.runtime.search;

import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code generate --engine beam-search}: runs the exported BeamSearch, GreedySearch or Sampling graph that fits the
 * request (beams → BeamSearch, sampling → Sampling, otherwise GreedySearch) in one ONNX Runtime call.
 */
public final class SearchOpEngine implements GenerationEngine {

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        SearchKind kind = SearchKind.forConfig(config);
        Path file = modelDir.resolve(kind.fileName());
        if (!Files.isRegularFile(file)) {
            throw new StepwiseException(modelDir + ": no " + kind.fileName() + " (export with --generation "
                    + kind.cliName() + " to write it)");
        }
        long pad = config.padTokenId() >= 0 ? config.padTokenId() : modelPadId(modelDir);
        List<long[]> rows = SearchEngine.generate(file, kind, prompts, config, pad);
        int perPrompt = rows.size() / prompts.size();
        List<List<long[]>> grouped = new ArrayList<>();
        for (int p = 0; p < prompts.size(); p++) {
            grouped.add(List.copyOf(rows.subList(p * perPrompt, (p + 1) * perPrompt)));
        }
        return grouped;
    }

    private static long modelPadId(Path modelDir) {
        return ModelFolder.read(modelDir).config().padTokenId();
    }
}
