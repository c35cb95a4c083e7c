package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.loop.LoopEngine;
import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every architecture on the class path that {@link RandomCheckpoint} can make a tiny checkpoint for: the loop graph's
 * greedy tokens and its seeded samples equal the Java generator's on a left-padded batch. New architectures join by registering a random layout.
 */
class LoopArchitecturesTest {
    static final List<long[]> PROMPTS = List.of(
            new long[] {11, 250, 3, 77, 512, 9, 40},
            new long[] {5, 6},
            new long[] {900, 1, 2, 3});

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> loopGraphEqualsJavaGeneratorForEveryArchitecture() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Architecture architecture : Architectures.all().values()) {
            String arch = architecture.spec().modelType();
            if (!RandomCheckpoint.archs().contains(arch) || !RandomCheckpoint.presets(arch).contains("tiny")) {
                continue;
            }
            tests.add(DynamicTest.dynamicTest(arch, () -> check(architecture, arch)));
        }
        assertFalse(tests.isEmpty(), "at least GPT-2 is registered");
        return tests.stream();
    }

    private static void check(Architecture architecture, String arch) {
        Path checkpoint = tmp.resolve(arch + "-tiny");
        RandomCheckpoint.write(arch, "tiny", checkpoint, 11);
        Path decoder = Exporter.export(architecture, checkpoint, tmp.resolve(arch + "-decoder"), ExportOptions.defaults())
                .outputDir();
        Path loopFile = LoopGraphBuilder.write(architecture, checkpoint, tmp.resolve(arch + "-loop"), 0);
        int newTokens = 10;
        try (ExportedModel model = ExportedModel.open(decoder, 1); LoopEngine engine = LoopEngine.open(loopFile, 1)) {
            List<Long> eos = List.copyOf(model.eosIds());
            List<long[]> expected = new Generator(model).greedy(PROMPTS, newTokens);
            LoopGpt2Test.assertRowsEqual(expected,
                    engine.generate(PROMPTS, GenerationConfig.greedy(newTokens), model.padId(), eos));

            GenerationConfig sampling = GenerationConfig.sampling(newTokens, 0.9, 40, 0.95, 3);
            List<long[]> sampled = new Generator(model).generate(PROMPTS, sampling).stream().map(l -> l.get(0)).toList();
            LoopGpt2Test.assertRowsEqual(sampled, engine.generate(PROMPTS, sampling, model.padId(), eos));
        }
    }
}
