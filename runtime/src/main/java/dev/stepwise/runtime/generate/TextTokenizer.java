package dev.stepwise.runtime.generate;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Text ↔ ids through a model folder's {@code tokenizer.json} (Hugging Face tokenizers, via DJL's native binding). */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public static TextTokenizer open(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new StepwiseException(modelDir + ": no tokenizer.json; pass token ids with --input-ids instead of --prompt");
        }
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false")));
        } catch (IOException | RuntimeException e) {
            throw new StepwiseException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        }
    }

    public long[] encode(String text) {
        Encoding e = tokenizer.encode(text);
        return e.getIds();
    }

    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
