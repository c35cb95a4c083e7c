package dev.stepwise.runtime.unroll;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code unroll.json}: the shapes the step graphs were built for, read back by {@code generate}. A seq2seq unroll
 * ({@code "format": "seq2seq-gen-step-graphs"}) also names its static encoder and the encoder length; its decoder
 * steps start from one token (the decoder start), so {@code sequence} is 1 there.
 *
 * @param encoder         the static encoder's file, or null for a decoder-only unroll
 * @param encoderSequence the encoder's fixed length L (0 for a decoder-only unroll)
 */
public record UnrollManifest(String modelType, int batch, int sequence, int maxNewTokens, boolean lastTokenLogits,
                             List<GenStep> steps, String encoder, int encoderSequence) {
    static final String FORMAT = "gen-step-graphs";
    static final String SEQ2SEQ_FORMAT = "seq2seq-gen-step-graphs";

    /** Whether this is a seq2seq unroll (a static encoder and decoder steps). */
    public boolean isSeq2Seq() {
        return encoder != null;
    }

    /** Writes the manifest; {@code encoderFile} names a seq2seq unroll's static encoder (null for a decoder-only one). */
    static void write(Path file, String modelType, UnrollOptions options, List<GenStep> steps, String encoderFile)
            throws IOException {
        boolean seq2seq = encoderFile != null;
        JsonObject o = new JsonObject();
        o.addProperty("format", seq2seq ? SEQ2SEQ_FORMAT : FORMAT);
        o.addProperty("model_type", modelType);
        o.addProperty("batch_size", options.batch());
        o.addProperty(seq2seq ? "encoder_sequence_length" : "sequence_length", options.sequence());
        o.addProperty("max_new_tokens", options.maxNewTokens());
        if (seq2seq) {
            o.addProperty("encoder", encoderFile);
        } else {
            o.addProperty("last_token_logits", options.lastTokenLogits());
        }
        o.addProperty("weights_file", Unroller.WEIGHTS_FILE);
        JsonArray files = new JsonArray();
        steps.forEach(s -> files.add(s.fileName()));
        o.add("steps", files);
        Files.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(o), StandardCharsets.UTF_8);
    }

    /** Reads a folder's manifest, or returns null when the folder is not an unrolled model. */
    public static UnrollManifest readIfPresent(Path dir) {
        Path file = dir.resolve(Unroller.MANIFEST_FILE);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonObject o = ModelConfig.readJson(file);
        try {
            int batch = o.get("batch_size").getAsInt();
            boolean seq2seq = o.has("format") && o.get("format").getAsString().equals(SEQ2SEQ_FORMAT);
            int sequence = seq2seq ? 1 : o.get("sequence_length").getAsInt();
            String encoder = seq2seq ? o.get("encoder").getAsString() : null;
            if (encoder != null && !Files.isRegularFile(dir.resolve(encoder))) {
                throw new StepwiseException(dir + ": encoder graph " + encoder + " is missing");
            }
            int steps = o.get("steps").getAsJsonArray().size();
            List<GenStep> list = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                GenStep step = GenStep.of(s, batch, sequence);
                if (!Files.isRegularFile(dir.resolve(step.fileName()))) {
                    throw new StepwiseException(dir + ": step graph " + step.fileName() + " is missing");
                }
                list.add(step);
            }
            return new UnrollManifest(o.get("model_type").getAsString(), batch, sequence,
                    o.get("max_new_tokens").getAsInt(), !seq2seq && o.get("last_token_logits").getAsBoolean(), list,
                    encoder, seq2seq ? o.get("encoder_sequence_length").getAsInt() : 0);
        } catch (RuntimeException e) {
            if (e instanceof StepwiseException se) {
                throw se;
            }
            throw new StepwiseException(file + ": not a valid unroll manifest: " + e.getMessage(), e);
        }
    }
}
