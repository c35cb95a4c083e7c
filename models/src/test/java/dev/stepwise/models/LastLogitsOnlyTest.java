package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.Validator;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.OrtTensors;
import dev.stepwise.runtime.ort.PinnedLogits;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --last-logits-only} for every architecture with a tiny random checkpoint: the export validates
 * against the reference's last position, its {@code [B, 1, V]} logits equal the full export's last position, and
 * the generator gives the same tokens on both folders. Also the generator's pinned logits buffer
 * ({@link PinnedLogits}): ONNX Runtime writes into it and only the last position of each row is read.
 */
class LastLogitsOnlyTest {
    static final List<long[]> PROMPTS = List.of(
            new long[] {11, 250, 3, 77, 512, 9, 40},
            new long[] {5, 6},
            new long[] {900, 1, 2, 3});

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> lastLogitsExportEqualsTheFullExportsLastPosition() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Architecture architecture : Architectures.all().values()) {
            String arch = architecture.spec().modelType();
            if (!RandomCheckpoint.archs().contains(arch) || !RandomCheckpoint.presets(arch).contains("tiny")) {
                continue;
            }
            tests.add(DynamicTest.dynamicTest(arch, () -> check(architecture, arch)));
        }
        assertTrue(tests.size() >= 6, "gpt2, gpt_neo, llama, mistral, opt, biogpt: " + tests.size());
        return tests.stream();
    }

    private static void check(Architecture architecture, String arch) throws Exception {
        Path checkpoint = tmp.resolve(arch + "-tiny");
        RandomCheckpoint.write(arch, "tiny", checkpoint, 11);
        ExportResult full = Exporter.export(architecture, checkpoint, tmp.resolve(arch + "-full"), ExportOptions.defaults());
        ExportResult last = Exporter.export(architecture, checkpoint, tmp.resolve(arch + "-last"),
                ExportOptions.defaults().withLastLogitsOnly(true));
        ExportChecks.assertValidated(arch + " last-logits-only", last, 3);
        assertTrue(Exporter.lastLogitsOnly(last.outputDir()), "stepwise.json records last_logits_only");
        assertFalse(Exporter.lastLogitsOnly(full.outputDir()));

        // Same inputs (a padded prefill with a past) on both graphs: [B, 1, V] is the full logits' last position.
        ModelConfig config = ModelFolder.read(checkpoint).config();
        DummyInputs in = architecture.dummyInputs(config, 2, 9, 5, 77);
        String logits = architecture.spec().outputs().get(0).name();
        HostTensor fullLogits;
        HostTensor lastLogits;
        try (OrtSession a = OrtSessions.open(full.modelFile(), 1); OrtSession b = OrtSessions.open(last.modelFile(), 1)) {
            fullLogits = Validator.runOrt(a, architecture, in).get(logits);
            lastLogits = Validator.runOrt(b, architecture, in).get(logits);
        }
        assertArrayEquals(new long[] {2, 1, config.vocabSize()}, lastLogits.shape());
        double diff = fullLogits.lastPosition().maxAbsDiff(lastLogits);
        assertTrue(diff <= 1e-5, arch + ": last-only logits differ from the full export's last position by " + diff);

        try (ExportedModel f = ExportedModel.open(full.outputDir(), 1);
             ExportedModel l = ExportedModel.open(last.outputDir(), 1)) {
            assertTrue(l.lastLogitsOnly());
            assertFalse(f.lastLogitsOnly());
            assertSameTokens(arch, f, l, 8, 6);
        }
    }

    /**
     * The generator gives the same greedy tokens ({@code greedyTokens} new ones) and 3-beam search results
     * ({@code beamTokens} new ones) on {@code actual} as on {@code expected}, for the left-padded batch
     * {@link #PROMPTS}.
     */
    static void assertSameTokens(String label, ExportedModel expected, ExportedModel actual, int greedyTokens,
                                 int beamTokens) {
        assertRowsEqual(label + " greedy", new Generator(expected).greedy(PROMPTS, greedyTokens),
                new Generator(actual).greedy(PROMPTS, greedyTokens));
        GenerationConfig beams = GenerationConfig.beamSearch(beamTokens, 3, 1.0, false, 2);
        List<List<long[]>> eb = new Generator(expected).generate(PROMPTS, beams, BeamOptions.of(beams),
                Generator.TokenListener.NONE);
        List<List<long[]>> ab = new Generator(actual).generate(PROMPTS, beams, BeamOptions.of(beams),
                Generator.TokenListener.NONE);
        for (int p = 0; p < PROMPTS.size(); p++) {
            assertRowsEqual(label + " beam search, prompt " + p, eb.get(p), ab.get(p));
        }
    }

    /** ONNX Runtime writes the whole [B, S, V] into the pinned buffer; a read copies one row's last position. */
    @Test
    void pinnedLogitsReadOnlyTheLastPositionOfEachRow() throws Exception {
        Path dir = Gpt2Exporter.run(Fixtures.path("gpt2-tiny-random"), tmp.resolve("gpt2-pinned")).outputDir();
        Architecture architecture = ModelFolder.read(dir).architecture();
        ModelConfig config = ModelFolder.read(dir).config();
        int batch = 2;
        int sequence = 12;
        int vocab = config.vocabSize();
        DummyInputs in = architecture.dummyInputs(config, batch, sequence, 0, 5);
        try (OrtSession session = OrtSessions.open(dir.resolve(Exporter.MODEL_FILE), 1);
             PinnedLogits pinned = PinnedLogits.allocate(OnnxJavaType.FLOAT, batch, sequence, vocab)) {
            HostTensor expected = Validator.runOrt(session, architecture, in).get("logits");   // ORT-owned, copied
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            try {
                for (String name : session.getInputNames()) {
                    feed.put(name, OrtTensors.create(OrtSessions.environment(), in.get(name),
                            name.startsWith("past") ? dev.stepwise.annotations.DType.FLOAT : dev.stepwise.annotations.DType.INT64));
                }
                java.util.Set<String> presents = new java.util.LinkedHashSet<>(session.getOutputNames());
                presents.remove("logits");
                try (OrtSession.Result result = session.run(feed, presents, Map.of("logits", pinned.tensor()))) {
                    assertSame(pinned.tensor(), result.get("logits").orElseThrow(), "ORT wrote into our tensor");
                }
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
            assertEquals((long) batch * sequence * vocab * Float.BYTES, pinned.bufferBytes(), "off-heap [B, S, V]");
            assertTrue(pinned.tensor().getBufferRef().orElseThrow().isDirect());
            HostTensor last = expected.lastPosition();
            for (int b = 0; b < batch; b++) {
                float[] row = pinned.lastPosition(b);
                assertEquals(vocab, row.length, "a read allocates vocab floats, not sequence x vocab");
                float[] want = java.util.Arrays.copyOfRange(last.floats(), b * vocab, (b + 1) * vocab);
                assertArrayEquals(want, row, "row " + b + ": bit-identical to ORT's own output");
            }
            assertTrue(pinned.fits(batch, sequence));
            assertFalse(pinned.fits(batch, 1));
        }
    }

    static void assertRowsEqual(String label, List<long[]> expected, List<long[]> actual) {
        assertEquals(expected.size(), actual.size(), label);
        for (int r = 0; r < expected.size(); r++) {
            assertArrayEquals(expected.get(r), actual.get(r), label + ", row " + r);
        }
    }
}
