package dev.stepwise.runtime.loop;

import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.FolderTokenIds;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.GenerationEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code loop} engine: runs an exported folder's {@code model_loop.onnx} ({@link LoopEngine}). Eos and pad ids
 * come from the request, else from the folder ({@code generation_config.json} over {@code config.json}), as for the
 * Java engine. Greedy and sampling (with {@code num_return_sequences}); no beam search, repetition penalty or
 * n-gram ban (refused with the reason); no streaming, since the whole generation is one {@code session.run}.
 */
public final class LoopGenerationEngine implements GenerationEngine {
    private final int threads;

    /** {@code threads} intra-op threads for ONNX Runtime (0 = one per core). */
    public LoopGenerationEngine(int threads) {
        this.threads = threads;
    }

    @Override
    public List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config) {
        Path file = modelDir.resolve(LoopGraphBuilder.FILE);
        if (!Files.isRegularFile(file)) {
            throw new StepwiseException(modelDir + ": no " + LoopGraphBuilder.FILE
                    + " (write it with 'stepwise export --generation loop')");
        }
        List<Long> eos = config.eosTokenIds();
        long pad = config.padTokenId();
        if (eos.isEmpty() || pad < 0) {
            FolderTokenIds folder = FolderTokenIds.read(modelDir, ModelFolder.read(modelDir).config());
            eos = eos.isEmpty() ? folder.eos() : eos;
            pad = pad < 0 ? folder.pad() : pad;
        }
        List<long[]> rows;
        try (LoopEngine engine = LoopEngine.open(file, threads)) {
            rows = engine.generate(prompts, config, pad, eos);
        }
        int perPrompt = rows.size() / prompts.size();
        List<List<long[]>> out = new ArrayList<>();
        for (int b = 0; b < prompts.size(); b++) {
            out.add(new ArrayList<>(rows.subList(b * perPrompt, (b + 1) * perPrompt)));
        }
        return out;
    }
}
