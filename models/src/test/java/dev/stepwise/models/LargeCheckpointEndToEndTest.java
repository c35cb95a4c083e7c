package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.annotations.Task;
import dev.stepwise.runtime.checkpoint.Checkpoint;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.ExportResult;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.export.ReferenceRunner;
import dev.stepwise.runtime.export.ValidationCase;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.tensor.HostTensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real scale, in the e2e profile only (a few minutes, several GB on disk): a Llama-3.2-1B-shaped bf16 checkpoint
 * exported by the launcher with no flags (peak RSS checked), and a checkpoint whose one tensor is above 2 GiB in
 * float32 exported, validated and generated from.
 */
@EnabledIfSystemProperty(named = "stepwise.e2e", matches = "true")
class LargeCheckpointEndToEndTest {
    /** The budget for the 1B bf16 checkpoint: 1.2x the 4.94 GB of float32 weights the export writes. */
    private static final long PEAK_RSS_LIMIT_BYTES = 6_000_000_000L;

    @TempDir
    Path tmp;

    @Test
    void llama1bBf16ExportsWithTheDefaultLauncherWithinItsMemoryBudget() throws Exception {
        Path checkpoint = tmp.resolve("llama-3.2-1b-bf16");
        RandomCheckpoint.write("llama", "llama-3.2-1b", checkpoint, 0, SafetensorsDtype.BF16, ProgressListener.SILENT);
        Path out = tmp.resolve("onnx");

        Launched run = launch("export", "--model", checkpoint.toString(), "--output", out.toString());

        assertEquals(0, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("validated"), run.stderr());
        assertTrue(!run.stderr().contains("Exception") && !run.stderr().contains("\tat "), run.stderr());
        assertTrue(run.peakRssBytes() <= PEAK_RSS_LIMIT_BYTES,
                "peak RSS " + run.peakRssBytes() / 1e9 + " GB > " + PEAK_RSS_LIMIT_BYTES / 1e9 + " GB");
        assertTrue(Files.size(out.resolve(Exporter.DATA_FILE)) > 4_900_000_000L, "fp32 weights written");
        System.err.printf("e2e: llama-3.2-1b bf16 export peak RSS %.2f GB%n", run.peakRssBytes() / 1e9);
    }

    @Test
    void aTensorAboveTwoGibibytesExportsValidatesAndGenerates() throws Exception {
        Path checkpoint = tmp.resolve("big-embedding");
        RandomCheckpoint.write("llama", "big-embedding", checkpoint, 0, SafetensorsDtype.F32, ProgressListener.SILENT);
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            assertEquals(160000L * 4096 * 4, 4 * HostTensor.elementCount(c.shape("model.embed_tokens.weight")));
        }

        ExportResult export = Exporter.export(checkpoint, tmp.resolve("onnx"), ExportOptions.defaults());
        for (ValidationCase c : export.validation()) {
            assertTrue(c.passed(), c.name() + ": " + c.maxAbsDiff());
        }

        long[] prompt = {1, 159_999, 81_234, 7};
        long[] generated;
        try (ExportedModel model = ExportedModel.open(export.outputDir(), 0)) {
            generated = new Generator(model).greedy(List.of(prompt), 3).get(0);
        }
        // The same greedy tokens from the PyTorch reference, one full forward per token (no cache).
        ModelFolder folder = ModelFolder.read(checkpoint);
        long[] sequence = prompt.clone();
        try (Checkpoint weights = Checkpoint.open(checkpoint);
             ReferenceRunner reference = new ReferenceRunner(folder.architecture(), folder.config(), weights)) {
            for (int step = 0; step < 3; step++) {
                sequence = append(sequence, argmaxLast(reference.run(inputs(sequence), Task.TEXT_GENERATION)
                        .get("logits")));
            }
        }
        // greedy returns prompt + new ids, stopping after eos (id 2), where the reference goes on
        assertTrue(generated.length > prompt.length);
        assertArrayEquals(java.util.Arrays.copyOf(sequence, generated.length), generated);
    }

    private static DummyInputs inputs(long[] ids) {
        long[] ones = new long[ids.length];
        long[] positions = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ones[i] = 1;
            positions[i] = i;
        }
        long[] shape = {1, ids.length};
        return new DummyInputs().put("input_ids", HostTensor.ofLongs(ids, shape))
                .put("attention_mask", HostTensor.ofLongs(ones, shape))
                .put("position_ids", HostTensor.ofLongs(positions, shape));
    }

    private static long argmaxLast(HostTensor logits) {
        float[] v = logits.floats();
        int vocab = (int) logits.dim(2);
        int offset = v.length - vocab;
        int best = 0;
        for (int i = 1; i < vocab; i++) {
            if (v[offset + i] > v[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    private static long[] append(long[] a, long... b) {
        long[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private record Launched(int exitCode, String stderr, long peakRssBytes) {
    }

    /** Runs {@code ./stepwise} as a new user would, sampling the process's peak RSS (VmHWM) while it runs. */
    private Launched launch(String... args) throws IOException, InterruptedException {
        Path root = Fixtures.projectRoot();
        List<String> command = new java.util.ArrayList<>(List.of(root.resolve("stepwise").toString()));
        command.addAll(List.of(args));
        Path err = tmp.resolve("stderr.txt");
        Process p = new ProcessBuilder(command).directory(root.toFile()).redirectError(err.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long peak = 0;
        while (!p.waitFor(200, TimeUnit.MILLISECONDS)) {
            peak = Math.max(peak, peakRss(p.toHandle()));
        }
        return new Launched(p.exitValue(), Files.readString(err, StandardCharsets.UTF_8), peak);
    }

    /** The highest VmHWM among the process and its children (the launcher execs java, so usually the process). */
    private static long peakRss(ProcessHandle handle) {
        long peak = vmHwm(handle.pid());
        for (ProcessHandle child : (Iterable<ProcessHandle>) handle.descendants()::iterator) {
            peak = Math.max(peak, vmHwm(child.pid()));
        }
        return peak;
    }

    private static long vmHwm(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended between samples
        }
        return 0;
    }
}
