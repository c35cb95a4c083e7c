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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Java generation on an exported seq2seq set (encoder once per request, then the decoder and the decoder with past on
 * ONNX Runtime) against transformers' {@code generate} in {@code goldens.json}: greedy and 3-beam search, both with
 * {@code min_new_tokens = max_new_tokens = 8}, length_penalty 1.0, early_stopping False, on a right-padded batch;
 * through optimum's decoder pair, optimum's merged decoder and Stepwise's single decoder graph: each of the three
 * equal to the goldens, so to each other.
 */
class Seq2SeqGenerateTest {
    @TempDir
    static Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"bart-tiny-random", "bart-reverse-trained", "t5-tiny-random", "t5-reverse-trained"})
    void greedyAndThreeBeamsEqualTransformers(String name) {
        Path checkpoint = Fixtures.path("seq2seq/" + name);
        JsonObject golden = ModelConfig.readJson(checkpoint.resolve("goldens.json"));
        Path folder = Stepwise.export(checkpoint, tmp.resolve(name), ExportOptions.defaults()).outputDir();
        List<long[]> rows = rows(golden.getAsJsonArray("rows"));
        GenerationConfig greedy = new GenerationConfig.Builder().maxNewTokens(8).minNewTokens(8).build(0);
        GenerationConfig beams = new GenerationConfig.Builder().maxNewTokens(8).minNewTokens(8).numBeams(3)
                .lengthPenalty(1.0).earlyStopping(BeamOptions.EarlyStopping.FALSE).build(0);
        for (Seq2SeqModel.Decoder decoder : Seq2SeqModel.Decoder.values()) {
            try (Seq2SeqModel model = Seq2SeqModel.open(folder, decoder)) {
                List<List<Long>> g = first(model.generate(rows, greedy));
                List<List<Long>> b = first(model.generate(rows, beams));
                System.out.println(name + " exported set, " + decoder + " decoder, Java generation: greedy " + g
                        + ", 3 beams " + b);
                assertEquals(expected(golden.getAsJsonArray("greedy")), g, "greedy, " + decoder + " decoder");
                assertEquals(expected(golden.getAsJsonArray("beam3")), b, "3 beams, " + decoder + " decoder");
            }
        }
    }

    static List<List<Long>> first(List<List<long[]>> perRow) {
        List<List<Long>> out = new ArrayList<>();
        perRow.forEach(seqs -> out.add(Arrays.stream(seqs.get(0)).boxed().toList()));
        return out;
    }

    /** goldens.json's {@code rows}: the encoder inputs, one array of ids each. */
    static List<long[]> rows(JsonArray rows) {
        List<long[]> out = new ArrayList<>();
        for (var r : rows) {
            JsonArray a = r.getAsJsonArray();
            long[] ids = new long[a.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = a.get(i).getAsLong();
            }
            out.add(ids);
        }
        return out;
    }

    static List<List<Long>> expected(JsonArray seqs) {
        List<List<Long>> out = new ArrayList<>();
        for (var s : seqs) {
            List<Long> ids = new ArrayList<>();
            s.getAsJsonArray().forEach(e -> ids.add(e.getAsLong()));
            out.add(ids);
        }
        return out;
    }
}
