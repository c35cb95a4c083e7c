package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtSessions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** What every architecture's tests check of an export of a random checkpoint. */
final class ExportChecks {
    static final long SEED = 7;

    private ExportChecks() {
    }

    /** Writes a random checkpoint of a preset into {@code dir}. */
    static Path randomCheckpoint(Path dir, String arch, String preset) {
        RandomCheckpoint.write(arch, preset, dir, SEED);
        return dir;
    }

    /** Rewrites a checkpoint's {@code config.json} after {@code edit}. */
    static void editConfig(Path checkpoint, Consumer<JsonObject> edit) {
        Path file = checkpoint.resolve("config.json");
        JsonObject json = ModelConfig.readJson(file);
        edit.accept(json);
        try {
            Files.writeString(file, new GsonBuilder().setPrettyPrinting().create().toJson(json), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every validation case ran (prefill, past + new tokens, decode; all on padded batches) and passed. */
    static void assertValidated(String label, ExportResult export, int expectedCases) {
        List<ValidationCase> cases = export.validation();
        assertTrue(cases.size() >= expectedCases, label + ": " + cases.size() + " validation cases ran");
        for (ValidationCase c : cases) {
            if (c.rtol() > 0) {
                System.out.printf("%s [%s] worst max abs diff %.3g, %.2g of max |reference| (atol %.0e + rtol %.0e x max"
                        + " |reference|)%n", label, c.name(), c.worst(), c.worstRelative(), c.atol(), c.rtol());
            } else {
                System.out.printf("%s [%s] worst max abs diff %.3g (atol %.0e)%n", label, c.name(), c.worst(), c.atol());
            }
            assertTrue(c.passed(), label + " [" + c.name() + "]: " + c.maxAbsDiff());
        }
    }

    /** A left-padded batch gives, row by row, the tokens each row gives alone. */
    static void assertPaddedBatchGivesEachRowsOwnTokens(Path exportDir, List<long[]> prompts, int newTokens) {
        try (ExportedModel model = ExportedModel.open(exportDir, 1)) {
            Generator generator = new Generator(model);
            List<long[]> batch = generator.greedy(prompts, newTokens);
            for (int r = 0; r < prompts.size(); r++) {
                long[] alone = generator.greedy(List.of(prompts.get(r)), newTokens).get(0);
                assertTrue(alone.length > prompts.get(r).length, "row " + r + " generated tokens");
                assertArrayEquals(alone, batch.get(r), "row " + r + " of the padded batch vs the row alone: "
                        + Arrays.toString(batch.get(r)) + " vs " + Arrays.toString(alone));
            }
        }
    }

    /**
     * Logits at the last token of one unpadded row: the first {@code prefill} tokens in one run with an empty past,
     * then the rest one token per run, each run's present fed back as the next run's past.
     */
    static float[] lastLogits(Path exportDir, long[] tokens, int prefill) {
        OrtEnvironment env = OrtSessions.environment();
        try (ExportedModel model = ExportedModel.open(exportDir, 1)) {
            CacheDecl cache = model.spec().cache();
            ModelConfig config = model.config();
            int layers = config.numLayers();
            int vocab = config.vocabSize();
            Map<String, OnnxTensor> past = new LinkedHashMap<>();
            long[] emptyShape = {1, config.numKeyValueHeads(), 0, config.headDim()};
            for (int l = 0; l < layers; l++) {
                for (String kind : new String[] {"key", "value"}) {
                    past.put(cache.pastName(l, kind), OnnxTensor.createTensor(env, FloatBuffer.allocate(0), emptyShape));
                }
            }
            OrtSession.Result previous = null;
            float[] last = null;
            try {
                int start = 0;
                while (start < tokens.length) {
                    int end = start == 0 ? prefill : start + 1;
                    long[] ids = Arrays.copyOfRange(tokens, start, end);
                    long[] mask = new long[end];
                    Arrays.fill(mask, 1);
                    long[] positions = new long[end - start];
                    for (int i = 0; i < positions.length; i++) {
                        positions[i] = start + i;
                    }
                    Map<String, OnnxTensor> feed = new LinkedHashMap<>(past);
                    List<OnnxTensor> owned = new ArrayList<>();
                    owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length}));
                    owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length}));
                    owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, positions.length}));
                    feed.put("input_ids", owned.get(0));
                    feed.put("attention_mask", owned.get(1));
                    feed.put("position_ids", owned.get(2));
                    OrtSession.Result result;
                    try {
                        result = model.session().run(feed);
                    } finally {
                        owned.forEach(OnnxTensor::close);
                    }
                    if (previous != null) {
                        previous.close();
                    } else {
                        past.values().forEach(OnnxTensor::close);
                    }
                    previous = result;
                    FloatBuffer logits = ((OnnxTensor) result.get("logits").orElseThrow()).getFloatBuffer();
                    last = new float[vocab];
                    logits.position((ids.length - 1) * vocab);
                    logits.get(last);
                    past = new LinkedHashMap<>();
                    for (int l = 0; l < layers; l++) {
                        for (String kind : new String[] {"key", "value"}) {
                            past.put(cache.pastName(l, kind), (OnnxTensor) result.get(cache.presentName(l, kind)).orElseThrow());
                        }
                    }
                    start = end;
                }
            } finally {
                if (previous != null) {
                    previous.close();
                } else {
                    past.values().forEach(OnnxTensor::close);
                }
            }
            return last;
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Prefill logits {@code [B, S, vocab]} of the exported graph for explicit id, mask and position rows (empty past),
     * run through ONNX Runtime.
     */
    static float[] prefillLogits(Path exportDir, dev.stepwise.runtime.model.Architecture architecture, long[][] ids,
                                 long[][] mask, long[][] positions) {
        int batch = ids.length;
        int sequence = ids[0].length;
        try (ExportedModel model = ExportedModel.open(exportDir, 1)) {
            dev.stepwise.runtime.export.DummyInputs in = architecture.dummyInputs(model.config(), batch, sequence, 0, 1);
            in.put("input_ids", dev.stepwise.runtime.tensor.HostTensor.ofLongs(flat(ids), batch, sequence));
            in.put("attention_mask", dev.stepwise.runtime.tensor.HostTensor.ofLongs(flat(mask), batch, sequence));
            in.put("position_ids", dev.stepwise.runtime.tensor.HostTensor.ofLongs(flat(positions), batch, sequence));
            return dev.stepwise.runtime.export.Validator.runOrt(model.session(), architecture, in).get("logits").floats();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long[] flat(long[][] rows) {
        return Arrays.stream(rows).flatMapToLong(Arrays::stream).toArray();
    }

    /** Row {@code row}, slots {@code from..to-1} of logits {@code [B, S, vocab]}. */
    static float[] slots(float[] logits, int sequence, int vocab, int row, int from, int to) {
        return Arrays.copyOfRange(logits, (row * sequence + from) * vocab, (row * sequence + to) * vocab);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
        }
        return worst;
    }
}
