package dev.stepwise.models;

import com.google.gson.JsonObject;
import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.StepModel;
import dev.stepwise.runtime.onnx.Optimize;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prints decode ms/token (median of 3 interleaved rounds of 16 steps) at several past lengths for the copying {@code --optimize ort} export and the in-place
 * ({@code --max-length}) one of the same mid-size random llama, in one run (not a test: figures for the README).
 * {@code java -cp <test classpath> dev.stepwise.models.InPlaceDecodeTiming DIR [past...]}.
 */
public final class InPlaceDecodeTiming {
    static final int STEPS = 16;
    static final int ROUNDS = 3;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        List<Integer> pasts = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            pasts.add(Integer.parseInt(args[i]));
        }
        int longest = pasts.stream().mapToInt(Integer::intValue).max().orElseThrow();
        Path checkpoint = dir.resolve("checkpoint");
        if (!Files.exists(checkpoint)) {
            // 8 layers, hidden 768, 12 heads sharing 4 KV heads of 64, vocab 8000: ~57M parameters
            JsonObject config = RandomCheckpoint.config("llama", "tiny-llama3");
            config.addProperty("vocab_size", 8000);
            config.addProperty("hidden_size", 768);
            config.addProperty("intermediate_size", 2048);
            config.addProperty("num_hidden_layers", 8);
            config.addProperty("num_attention_heads", 12);
            config.addProperty("num_key_value_heads", 4);
            config.addProperty("head_dim", 64);
            config.addProperty("max_position_embeddings", 4096);
            RandomCheckpoint.write("llama", "timing", config, checkpoint, 5, SafetensorsDtype.F32,
                    ProgressListener.SILENT);
        }
        ExportOptions ort = ExportOptions.defaults().withOptimize(Optimize.ORT).withValidate(false);
        Path copying = export(checkpoint, dir.resolve("ort"), ort);
        Path inPlace = export(checkpoint, dir.resolve("ort-inplace"), ort.withMaxLength(longest + STEPS + 1));
        try (ExportedModel c = ExportedModel.open(copying, 2); ExportedModel i = ExportedModel.open(inPlace, 2)) {
            System.out.println("past | copying ms/token | in-place ms/token");
            for (int past : pasts) {
                long[] prompt = new SplittableRandom(past).longs(past, 3, 8000).toArray();
                double[] a = new double[ROUNDS];
                double[] b = new double[ROUNDS];
                for (int r = 0; r < ROUNDS; r++) {     // interleaved, so load changes hit both alike
                    a[r] = decodeMs(c, prompt);
                    b[r] = decodeMs(i, prompt);
                }
                System.out.printf(Locale.ROOT, "%d | %.2f | %.2f%n", past, median(a), median(b));
            }
        }
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }

    private static Path export(Path checkpoint, Path out, ExportOptions options) {
        return Files.exists(out) ? out : Exporter.export(checkpoint, out, options).outputDir();
    }

    /** Mean ms of the decode steps after one warm-up step, batch 1, feeding token 5 each step. */
    private static double decodeMs(ExportedModel model, long[] prompt) {
        try (StepModel run = model.start(List.of(prompt), model.padId(), false)) {
            run.step(new long[] {5});
            long start = System.nanoTime();
            for (int s = 0; s < STEPS; s++) {
                run.step(new long[] {5});
            }
            return (System.nanoTime() - start) / 1e6 / STEPS;
        }
    }
}
