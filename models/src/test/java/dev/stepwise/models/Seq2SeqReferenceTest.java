package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.EncoderInputs;
import dev.stepwise.runtime.model.KvCache;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.Seq2SeqDecoderInputs;
import dev.stepwise.runtime.model.Seq2SeqArchitecture;
import dev.stepwise.runtime.model.Seq2SeqLm;
import dev.stepwise.runtime.ops.EagerBackend;
import dev.stepwise.runtime.ops.EagerOps;
import dev.stepwise.runtime.ops.Tensor;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Bart}'s and {@link T5}'s two forwards on the PyTorch engine against transformers' own {@code generate}
 * ({@code ../shared/fixtures/seq2seq/.../goldens.json}): the encoder's output on a right-padded batch, and greedy
 * tokens decoded step by step through both caches (the cross cache computed on the first step only), with the
 * goldens' {@code min_new_tokens = max_new_tokens = 8} (EOS suppressed until then).
 */
class Seq2SeqReferenceTest {

    @ParameterizedTest
    @ValueSource(strings = {"bart-tiny-random", "bart-reverse-trained", "t5-tiny-random", "t5-reverse-trained"})
    void greedyTokensAndEncoderOutputEqualTransformers(String name) {
        Path dir = Fixtures.path("seq2seq/" + name);
        JsonObject golden = ModelConfig.readJson(dir.resolve("goldens.json"));
        Seq2SeqArchitecture architecture = Architectures.SEQ2SEQ.of(dir).orElseThrow();
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"), architecture.spec().configKeys());
        Seq2SeqLm model = architecture.newModel();
        long[][] rows = longs(golden.getAsJsonArray("rows"));
        int batch = rows.length;
        int width = 0;
        for (long[] r : rows) {
            width = Math.max(width, r.length);
        }
        long[] ids = new long[batch * width];
        long[] mask = new long[batch * width];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < width; t++) {
                boolean real = t < rows[b].length;
                ids[b * width + t] = real ? rows[b][t] : config.padTokenId();
                mask[b * width + t] = real ? 1 : 0;
            }
        }
        long start = config.getInt("decoder_start_token_id");
        long eos = config.eosTokenIds().get(0);
        int newTokens = 8;
        List<List<Long>> out = new ArrayList<>();
        double encoderDiff;
        try (Checkpoint checkpoint = Checkpoint.open(dir); EagerOps ops = EagerBackend.find().open(checkpoint)) {
            Tensor mask2d = ops.input(HostTensor.ofLongs(mask, batch, width));
            Tensor hidden = model.encode(ops, config,
                    new EncoderInputs(ops.input(HostTensor.ofLongs(ids, batch, width)), mask2d, null, null));
            encoderDiff = firstCornerDiff(ops.toHost(hidden), golden.getAsJsonArray("encoder_last_hidden_state_row0_first3x4"));
            int layers = model.decoderLayers(config);
            KvCache self = KvCache.none(layers);
            KvCache cross = KvCache.none(layers);
            long[] next = new long[batch];
            java.util.Arrays.fill(next, start);
            for (int b = 0; b < batch; b++) {
                out.add(new ArrayList<>(List.of(start)));
            }
            for (int step = 0; step < newTokens; step++) {
                Tensor logits = model.decode(ops, config, new Seq2SeqDecoderInputs(
                        ops.input(HostTensor.ofLongs(next.clone(), batch, 1)), mask2d, step == 0 ? hidden : null),
                        self, cross);
                HostTensor l = ops.toHost(logits);
                int vocab = (int) l.dim(2);
                for (int b = 0; b < batch; b++) {
                    int best = -1;
                    for (int v = 0; v < vocab; v++) {
                        // min_new_tokens = max_new_tokens: EOS is suppressed on every step
                        if (v == eos) {
                            continue;
                        }
                        if (best < 0 || l.floats()[b * vocab + v] > l.floats()[b * vocab + best]) {
                            best = v;
                        }
                    }
                    next[b] = best;
                    out.get(b).add((long) best);
                }
                self = carry(self, layers);
                cross = carry(cross, layers);
            }
        }
        System.out.printf("%s on the PyTorch engine: encoder max abs diff %.3g vs transformers, greedy %s%n", name,
                encoderDiff, out);
        assertTrue(encoderDiff <= 1e-4, "encoder output differs by " + encoderDiff);
        for (int b = 0; b < batch; b++) {
            assertEquals(toList(golden.getAsJsonArray("greedy").get(b).getAsJsonArray()), out.get(b), "row " + b);
        }
    }

    /** The next step's cache: this step's presents as its past. */
    private static KvCache carry(KvCache cache, int layers) {
        KvCache next = KvCache.withPast(layers);
        for (int i = 0; i < layers; i++) {
            next.setPast(i, cache.presentKey(i), cache.presentValue(i));
        }
        return next;
    }

    private static double firstCornerDiff(HostTensor hidden, JsonArray corner) {
        long h = hidden.dim(2);
        double max = 0;
        for (int i = 0; i < corner.size(); i++) {
            JsonArray row = corner.get(i).getAsJsonArray();
            for (int j = 0; j < row.size(); j++) {
                max = Math.max(max, Math.abs(hidden.floats()[(int) (i * h + j)] - row.get(j).getAsDouble()));
            }
        }
        return max;
    }

    private static long[][] longs(JsonArray rows) {
        long[][] out = new long[rows.size()][];
        for (int i = 0; i < rows.size(); i++) {
            out[i] = toList(rows.get(i).getAsJsonArray()).stream().mapToLong(Long::longValue).toArray();
        }
        return out;
    }

    private static List<Long> toList(JsonArray a) {
        List<Long> out = new ArrayList<>();
        a.forEach(e -> out.add(e.getAsLong()));
        return out;
    }
}
