package dev.stepwise.runtime.generate;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.stepwise.runtime.StepwiseException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Text ↔ ids through a model folder's {@code tokenizer.json} (Hugging Face tokenizers, via DJL's native binding),
 * encoding exactly as transformers 5's {@code AutoTokenizer.from_pretrained(folder)(text)}: the pipeline is the one
 * {@link TokenizerPipeline} derives and special tokens (LLaMA's BOS) are added as its post-processor says.
 * Decoding skips special tokens.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Opens the folder's tokenizer; a one-line error naming the folder when it has no {@code tokenizer.json}. */
    public static TextTokenizer open(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new StepwiseException(modelDir + ": no tokenizer.json; pass token ids with --input-ids instead of --prompt");
        }
        byte[] json = TokenizerPipeline.effective(modelDir).toString().getBytes(StandardCharsets.UTF_8);
        // Loaded from bytes, not the folder: DJL would otherwise apply its own reading of tokenizer_config.json.
        // No truncation: a prompt longer than DJL's default 512 keeps every token, as in transformers.
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false");
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options));
        } catch (IOException | RuntimeException e) {
            throw new StepwiseException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        }
    }

    /** The ids transformers gives for {@code text}, special tokens included. */
    public long[] encode(String text) {
        Encoding e = tokenizer.encode(text);
        return e.getIds();
    }

    /** Ids and token types ({@code 0} for a single sentence) of {@code text}, special tokens included, unpadded. */
    public Encoded encodeWithTypes(String text) {
        Encoding e = tokenizer.encode(text);
        return new Encoded(e.getIds(), e.getTypeIds());
    }

    /** One text's ids and token types, of equal length. */
    public record Encoded(long[] ids, long[] typeIds) {
    }

    /** The text of {@code ids}, special tokens skipped. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
