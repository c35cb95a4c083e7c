package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.LanguageModel;
import dev.stepwise.runtime.Stepwise;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.unroll.UnrollOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The facade as a user meets it: export, open, generate text (streamed pieces add up to the returned text, which is
 * the ids' text after the prompt), generate ids; the same on an unrolled folder.
 */
class LanguageModelTest {
    @TempDir
    Path tmp;

    @Test
    void exportOpenAndGenerateTextAndIds() {
        Path out = tmp.resolve("llama");
        Stepwise.export(Fixtures.path("llama-tiny-random-fp16"), out, ExportOptions.defaults());
        try (LanguageModel model = Stepwise.open(out, 1)) {
            GenerationConfig greedy = model.settings().doSample(false).numBeams(1).maxNewTokens(6).build(0);
            List<String> pieces = new ArrayList<>();
            String text = model.generate("Hello, my name is", greedy, pieces::add);
            assertEquals(text, String.join("", pieces), "the streamed pieces add up to the text");
            assertFalse(text.isEmpty());

            long[] prompt = model.encode("Hello, my name is");
            long[] ids = model.generate(List.of(prompt), greedy).get(0).get(0);
            assertEquals(model.decode(prompt) + text, model.decode(ids), "text out = the ids' text after the prompt");

            List<Long> heard = new ArrayList<>();
            List<Integer> steps = new ArrayList<>();
            long[] streamed = model.generate(List.of(prompt), greedy, (row, step, token) -> {
                assertEquals(0, row);
                steps.add(step);
                heard.add(token);
            }).get(0).get(0);
            assertArrayEquals(ids, streamed, "listening does not change the tokens");
            assertEquals(ids.length - prompt.length, heard.size(), "the listener hears every generated token");
            for (int i = 0; i < heard.size(); i++) {
                assertEquals(ids[prompt.length + i], heard.get(i));
                assertEquals(i, steps.get(i));
            }

            GenerationConfig beams = greedy.toBuilder().numBeams(2).build(prompt.length);
            List<String> beamPieces = new ArrayList<>();
            String beamText = model.generate("Hello, my name is", beams, beamPieces::add);
            assertEquals(List.of(beamText), beamPieces, "beam search hands its text over once, at the end");
            StepwiseException noStream = assertThrows(StepwiseException.class,
                    () -> model.generate(List.of(prompt), beams, (row, step, token) -> { }));
            assertTrue(noStream.getMessage().contains("beam search"), noStream.getMessage());
        }
    }

    @Test
    void anUnrolledFolderOpensTheSameWay() {
        Path steps = tmp.resolve("steps");
        Path exported = tmp.resolve("exported");
        Stepwise.unroll(Fixtures.path("gpt2-tiny-random"), steps, UnrollOptions.of(1, 6, 4));
        Stepwise.export(Fixtures.path("gpt2-tiny-random"), exported, ExportOptions.defaults().withValidate(false));
        List<long[]> prompt = List.of(new long[] {10, 11, 12, 13});
        try (LanguageModel unrolled = Stepwise.open(steps, 1); LanguageModel dynamic = Stepwise.open(exported, 1)) {
            GenerationConfig config = GenerationConfig.greedy(4);
            assertArrayEquals(dynamic.generate(prompt, config).get(0).get(0), unrolled.generate(prompt, config).get(0).get(0));
        }
        StepwiseException e = assertThrows(StepwiseException.class, () -> Stepwise.open(tmp.resolve("missing")));
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }
}
