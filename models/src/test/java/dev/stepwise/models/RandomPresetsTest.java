package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.RandomTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every random-checkpoint preset of every built-in architecture, the real sizes included (planned, not written), now
 * that its tensors are derived from the forward instead of listed by hand:
 *
 * <ul>
 *   <li>{@code random-presets/layouts-before-derivation.txt} is what the hand-written layouts planned before they were
 *       deleted (config.json, and every tensor's name, shape and distribution); the derived plan is the same, line
 *       for line. Each tensor's values depend only on the seed and its name, so the values are the same too.</li>
 *   <li>{@code random-presets/transformers-parameters.txt} (made by {@code transformers_parameters.py} in that folder)
 *       lists the parameters transformers builds from each preset's config: the derived tensors are exactly those,
 *       by name and shape.</li>
 *   <li>The real sizes have their models' published parameter counts.</li>
 * </ul>
 */
class RandomPresetsTest {
    private static final Gson JSON = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();
    private static final List<String> BUILT_IN = List.of("gpt2", "gpt_neo", "opt", "biogpt", "llama", "mistral");

    @Test
    void derivedPlansAreTheHandWrittenLayoutsTheyReplace() throws IOException {
        StringBuilder derived = new StringBuilder();
        for (String arch : BUILT_IN) {
            for (String preset : RandomCheckpoint.presets(arch)) {
                JsonObject config = RandomCheckpoint.config(arch, preset);
                derived.append("== ").append(arch).append('/').append(preset).append('\n');
                derived.append(JSON.toJson(config)).append('\n');
                new TreeSet<>(tensors(arch, preset).stream().map(RandomTensor::toString).toList())
                        .forEach(t -> derived.append(t).append('\n'));
            }
        }
        assertSameLines(resource("layouts-before-derivation.txt"), derived.toString());
    }

    @Test
    void derivedTensorsAreTheParametersTransformersBuilds() throws IOException {
        Map<String, List<String>> oracle = blocks(resource("transformers-parameters.txt"));
        assertEquals(21, oracle.size());
        for (Map.Entry<String, List<String>> e : oracle.entrySet()) {
            String[] archPreset = e.getKey().split("/");
            List<String> derived = new ArrayList<>();
            for (RandomTensor t : tensors(archPreset[0], archPreset[1])) {
                derived.add(t.name() + " " + Arrays.toString(t.shape()));
            }
            assertEquals(new TreeSet<>(e.getValue()), new TreeSet<>(derived), e.getKey());
            assertEquals(e.getValue().size(), derived.size(), e.getKey() + ": each tensor once");
        }
    }

    @Test
    void realSizesHaveTheirModelsParameterCounts() {
        assertEquals(124_439_808L, parameters("gpt2", "gpt2"));                 // GPT-2 small
        assertEquals(1_100_048_384L, parameters("llama", "tinyllama"));         // TinyLlama-1.1B
        assertEquals(1_235_814_400L, parameters("llama", "llama-3.2-1b"));      // Llama-3.2-1B, tied
        assertEquals(7_241_732_096L, parameters("mistral", "mistral-7b"));      // Mistral-7B-v0.1
    }

    @Test
    void everyBuiltInArchitectureHasPresets() {
        List<String> archs = new ArrayList<>(RandomCheckpoint.archs());
        archs.remove("toy_parallel"); // NewArchitectureTest's, in this test folder
        assertEquals(new TreeSet<>(BUILT_IN), new TreeSet<>(archs));
    }

    private static List<RandomTensor> tensors(String arch, String preset) {
        return RandomCheckpoint.tensors(arch, RandomCheckpoint.config(arch, preset), Path.of(arch + "-" + preset,
                "config.json"));
    }

    private static long parameters(String arch, String preset) {
        long n = 0;
        for (RandomTensor t : tensors(arch, preset)) {
            n += Arrays.stream(t.shape()).reduce(1, Math::multiplyExact);
        }
        return n;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = RandomPresetsTest.class.getResourceAsStream("/random-presets/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** "== arch/preset" headers, each with the lines under it; '#' lines are comments. */
    private static Map<String, List<String>> blocks(String text) {
        Map<String, List<String>> blocks = new LinkedHashMap<>();
        List<String> current = null;
        for (String line : text.split("\n")) {
            if (line.startsWith("== ")) {
                current = new ArrayList<>();
                blocks.put(line.substring(3), current);
            } else if (current != null && !line.isEmpty() && !line.startsWith("#")) {
                current.add(line);
            }
        }
        return blocks;
    }

    /** Equal texts, or a failure naming the first line that differs. */
    private static void assertSameLines(String expected, String actual) {
        String[] e = expected.split("\n", -1);
        String[] a = actual.split("\n", -1);
        for (int i = 0; i < Math.min(e.length, a.length); i++) {
            assertEquals(e[i], a[i], "line " + (i + 1));
        }
        assertEquals(e.length, a.length, "line count");
    }
}
