package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Seq2SeqModel;
import dev.stepwise.runtime.model.ModelConfig;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code forced_bos_token_id} and {@code forced_eos_token_id} in seq2seq generation, greedy and 3 beams, against
 * transformers' {@code generate} on the same settings ({@code tools/seq2seq_forced_goldens.py}, max_new_tokens 8).
 * transformers pads finished rows; the comparison is up to and including the first eos after the decoder start.
 */
class Seq2SeqForcedTokensTest {
    @TempDir
    static Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"bart-reverse-trained", "t5-reverse-trained"})
    void forcedFirstAndLastTokensEqualTransformers(String name) throws URISyntaxException {
        Path goldens = Path.of(getClass().getResource("seq2seq-forced-goldens.json").toURI());
        JsonObject golden = ModelConfig.readJson(goldens).getAsJsonObject(name);
        Path folder = Stepwise.export(Fixtures.path("seq2seq/" + name), tmp.resolve(name), ExportOptions.defaults())
                .outputDir();
        List<long[]> rows = new ArrayList<>();
        for (var r : golden.getAsJsonArray("rows")) {
            rows.add(longs(r.getAsJsonArray()));
        }
        long eos = golden.get("forced_eos_token_id").getAsLong();
        GenerationConfig.Builder settings = new GenerationConfig.Builder().maxNewTokens(8)
                .forcedBosTokenId(golden.get("forced_bos_token_id").getAsLong()).forcedEosTokenId(eos);
        try (Seq2SeqModel model = Seq2SeqModel.open(folder)) {
            List<List<long[]>> greedy = model.generate(rows, settings.build(0));
            List<List<long[]>> beams = model.generate(rows, settings.numBeams(3).lengthPenalty(1.0)
                    .earlyStopping(BeamOptions.EarlyStopping.FALSE).build(0));
            for (int b = 0; b < rows.size(); b++) {
                System.out.println(name + " forced tokens, row " + b + ": greedy "
                        + Arrays.toString(greedy.get(b).get(0)) + ", 3 beams " + Arrays.toString(beams.get(b).get(0)));
                assertEquals(Arrays.toString(upToEos(golden.getAsJsonArray("greedy").get(b).getAsJsonArray(), eos)),
                        Arrays.toString(greedy.get(b).get(0)), "greedy row " + b);
                assertEquals(Arrays.toString(upToEos(golden.getAsJsonArray("beam3").get(b).getAsJsonArray(), eos)),
                        Arrays.toString(beams.get(b).get(0)), "3 beams row " + b);
            }
        }
    }

    private static long[] upToEos(JsonArray a, long eos) {
        long[] all = longs(a);
        for (int i = 1; i < all.length; i++) {
            if (all[i] == eos) {
                return Arrays.copyOf(all, i + 1);
            }
        }
        return all;
    }

    private static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
