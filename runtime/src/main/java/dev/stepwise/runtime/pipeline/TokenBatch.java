package dev.stepwise.runtime.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Texts tokenized and padded to one {@code [batch, length]} block, as transformers' tokenizer does with
 * {@code padding=True, truncation=True}: each row padded to the longest with the pad id on the tokenizer's padding
 * side ({@code padding_side} of {@code tokenizer_config.json}, else {@code tokenizer.json}'s, else right), a row
 * longer than the model's maximum truncated before its last (special) token, and a 0/1 attention mask.
 */
record TokenBatch(HostTensor inputIds, HostTensor attentionMask, HostTensor tokenTypeIds, int[] lengths,
                  boolean leftPadded) {

    /** The folder's padding rule: side, pad id and maximum length. */
    record Padding(boolean left, long padId, int maxLength) {
        static Padding of(Path folder) {
            JsonObject tokenizerConfig = read(folder.resolve("tokenizer_config.json"));
            JsonObject tokenizer = read(folder.resolve("tokenizer.json"));
            JsonObject filePadding = tokenizer.has("padding") && tokenizer.get("padding").isJsonObject()
                    ? tokenizer.getAsJsonObject("padding") : new JsonObject();
            String side = string(tokenizerConfig, "padding_side");
            if (side == null) {
                String direction = string(filePadding, "direction");
                side = direction == null ? "right" : direction.toLowerCase(java.util.Locale.ROOT);
            }
            long padId = filePadding.has("pad_id") ? filePadding.get("pad_id").getAsLong() : configPadId(folder);
            int max = Integer.MAX_VALUE;
            JsonElement m = tokenizerConfig.get("model_max_length");
            if (m != null && m.isJsonPrimitive() && m.getAsJsonPrimitive().isNumber() && m.getAsDouble() < 1e9) {
                max = m.getAsInt();
            }
            Path config = folder.resolve("config.json");
            if (Files.isRegularFile(config)) {
                JsonElement positions = ModelConfig.readJson(config).get("max_position_embeddings");
                if (positions != null && positions.isJsonPrimitive()) {
                    max = Math.min(max, positions.getAsInt());
                }
            }
            return new Padding(side.equals("left"), padId, max);
        }

        private static long configPadId(Path folder) {
            Path config = folder.resolve("config.json");
            if (!Files.isRegularFile(config)) {
                return 0;
            }
            JsonElement pad = ModelConfig.readJson(config).get("pad_token_id");
            return pad != null && pad.isJsonPrimitive() ? pad.getAsLong() : 0;
        }
    }

    static TokenBatch of(TextTokenizer tokenizer, Padding padding, List<String> texts) {
        List<TextTokenizer.Encoded> rows = new ArrayList<>();
        int longest = 1;
        for (String text : texts) {
            TextTokenizer.Encoded e = truncated(tokenizer.encodeWithTypes(text), padding.maxLength());
            rows.add(e);
            longest = Math.max(longest, e.ids().length);
        }
        int batch = rows.size();
        long[] ids = new long[batch * longest];
        long[] mask = new long[batch * longest];
        long[] types = new long[batch * longest];
        int[] lengths = new int[batch];
        java.util.Arrays.fill(ids, padding.padId());
        for (int b = 0; b < batch; b++) {
            TextTokenizer.Encoded e = rows.get(b);
            int n = e.ids().length;
            lengths[b] = n;
            int start = b * longest + (padding.left() ? longest - n : 0);
            for (int t = 0; t < n; t++) {
                ids[start + t] = e.ids()[t];
                types[start + t] = e.typeIds()[t];
                mask[start + t] = 1;
            }
        }
        return new TokenBatch(HostTensor.ofLongs(ids, batch, longest), HostTensor.ofLongs(mask, batch, longest),
                HostTensor.ofLongs(types, batch, longest), lengths, padding.left());
    }

    /** Keeps the first {@code max - 1} tokens and the last one (BERT's closing [SEP]), as truncation=True does. */
    private static TextTokenizer.Encoded truncated(TextTokenizer.Encoded e, int max) {
        int n = e.ids().length;
        if (n <= max) {
            return e;
        }
        long[] ids = java.util.Arrays.copyOf(e.ids(), max);
        long[] types = java.util.Arrays.copyOf(e.typeIds(), max);
        ids[max - 1] = e.ids()[n - 1];
        types[max - 1] = e.typeIds()[n - 1];
        return new TextTokenizer.Encoded(ids, types);
    }

    int batch() {
        return lengths.length;
    }

    int length() {
        return (int) inputIds.dim(1);
    }

    /** Column of row {@code b}'s {@code t}-th real token. */
    int column(int b, int t) {
        return leftPadded ? length() - lengths[b] + t : t;
    }

    /** Positions {@code 0..n-1} over each row's real tokens (for graphs that take position_ids). */
    HostTensor positionIds() {
        long[] pos = new long[batch() * length()];
        for (int b = 0; b < batch(); b++) {
            for (int t = 0; t < lengths[b]; t++) {
                pos[b * length() + column(b, t)] = t;
            }
        }
        return HostTensor.ofLongs(pos, batch(), length());
    }

    private static JsonObject read(Path file) {
        return Files.isRegularFile(file) ? ModelConfig.readJson(file) : new JsonObject();
    }

    private static String string(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : null;
    }

    static void requireTexts(List<String> texts) {
        if (texts.isEmpty()) {
            throw new StepwiseException("pipeline: no input text");
        }
    }
}
