package dev.stepwise.models;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.PlannedTensor;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.SafetensorsWriter;
import dev.stepwise.runtime.model.ModelConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code BertFor...} checkpoint made from the all-MiniLM-L6-v2 fixture: its body under {@code bert.}, plus head
 * tensors from the 64-bit LCG that {@code tools/bert_classifier_goldens.py} uses, so transformers' goldens hold for
 * it without committing its 90 MB.
 */
final class BertHeadCheckpoint {
    /** One head tensor: values {@code (u - 0.5) * scale} from the LCG, in declaration order. */
    record Head(String name, long[] shape, double scale) {
    }

    /** The classifier of {@code tools/bert_classifier_goldens.py} (its HEAD table and SEED). */
    static final long CLASSIFIER_SEED = 20261203L;
    static final List<Head> CLASSIFIER = List.of(new Head("bert.pooler.dense.weight", new long[] {384, 384}, 0.2),
            new Head("bert.pooler.dense.bias", new long[] {384}, 0.2),
            new Head("classifier.weight", new long[] {3, 384}, 1.0),
            new Head("classifier.bias", new long[] {3}, 0.2));
    static final List<String> LABELS = List.of("negative", "neutral", "positive");

    private BertHeadCheckpoint() {
    }

    /** Writes the checkpoint into {@code dir}; {@code config} edits the fixture's config.json (architectures, labels). */
    static Path write(Path dir, long seed, List<Head> heads, JsonObject configChanges) throws IOException {
        Path fixture = Fixtures.path("all-minilm-l6-v2");
        Files.createDirectories(dir);
        JsonObject config = ModelConfig.readJson(fixture.resolve("config.json"));
        configChanges.entrySet().forEach(e -> config.add(e.getKey(), e.getValue()));
        Files.writeString(dir.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(config));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(fixture.resolve(f), dir.resolve(f));
        }
        try (Checkpoint body = Checkpoint.open(fixture)) {
            List<PlannedTensor> planned = new ArrayList<>();
            for (String name : body.names()) {
                planned.add(new PlannedTensor("bert." + name, SafetensorsDtype.F32, body.shape(name)));
            }
            for (Head h : heads) {
                planned.add(new PlannedTensor(h.name(), SafetensorsDtype.F32, h.shape()));
            }
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("model.safetensors"), planned)) {
                for (String name : body.names()) {
                    ByteBuffer raw = body.float32(name);
                    w.writeRaw("bert." + name, raw);
                }
                Lcg lcg = new Lcg(seed);
                for (Head h : heads) {
                    float[] v = new float[Math.toIntExact(java.util.Arrays.stream(h.shape()).reduce(1, (a, b) -> a * b))];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = lcg.next(h.scale());
                    }
                    w.write(h.name(), v);
                }
            }
        }
        return dir;
    }

    /** The classifier checkpoint of the goldens: architectures BertForSequenceClassification, three labels. */
    static Path classifier(Path dir) throws IOException {
        JsonObject changes = new JsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add("BertForSequenceClassification");
        changes.add("architectures", architectures);
        JsonObject id2label = new JsonObject();
        JsonObject label2id = new JsonObject();
        for (int i = 0; i < LABELS.size(); i++) {
            id2label.addProperty(Integer.toString(i), LABELS.get(i));
            label2id.addProperty(LABELS.get(i), i);
        }
        changes.add("id2label", id2label);
        changes.add("label2id", label2id);
        return write(dir, CLASSIFIER_SEED, CLASSIFIER, changes);
    }

    /** state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64); u = (state >>> 40) / 2^24. */
    static final class Lcg {
        private long state;

        Lcg(long seed) {
            this.state = seed;
        }

        float next(double scale) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            double u = (state >>> 40) / (double) (1 << 24);
            return (float) ((u - 0.5) * scale);
        }
    }
}
