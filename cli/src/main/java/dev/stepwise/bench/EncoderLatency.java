package dev.stepwise.bench;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.TextTokenizer;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.quantize.EvalInputs;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Latency of encoder files (fp32, int8, someone else's int8) on the same sentences, in one run: each round passes
 * every sentence through every model once, batch 1, sentence by sentence with the models in turn, so a busy machine
 * slows all of them alike; each model's figure is its median round (the sum over the sentences), and its ratio to the
 * first model's is what to compare.
 *
 * <pre>
 * java -cp ... dev.stepwise.bench.EncoderLatency --tokenizer DIR [--threads 2] [--rounds 15] A.onnx B.onnx ...
 * </pre>
 */
public final class EncoderLatency {
    private EncoderLatency() {
    }

    /** One model's figures: median milliseconds of a round over all sentences, and that over the first model's. */
    public record Figure(Path model, double medianMs, double vsFirst) {
    }

    public static void main(String[] args) {
        Path tokenizer = null;
        int threads = 2;
        int rounds = 15;
        List<Path> models = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--tokenizer" -> tokenizer = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> models.add(Path.of(args[i]));
            }
        }
        if (tokenizer == null || models.isEmpty()) {
            throw new StepwiseException("usage: EncoderLatency --tokenizer DIR [--threads N] [--rounds R] MODEL.onnx...");
        }
        System.out.println(MachineFacts.current().cpuModel() + ", load " + MachineFacts.loadAverage() + ", " + threads + " threads, " + EvalInputs.SENTENCES.size()
                + " sentences one at a time, median of " + rounds + " rounds:");
        for (Figure f : measure(models, tokenizer, threads, rounds)) {
            System.out.printf("  %-60s %8.1f ms  %5.2fx%n", f.model(), f.medianMs(), f.vsFirst());
        }
    }

    /** {@code rounds} measured rounds after two unmeasured ones (session warm-up, caches). */
    public static List<Figure> measure(List<Path> models, Path tokenizerDir, int threads, int rounds) {
        if (!Files.isRegularFile(tokenizerDir.resolve("tokenizer.json"))) {
            throw new StepwiseException(tokenizerDir + ": no tokenizer.json");
        }
        List<Map<String, HostTensor>> feeds = new ArrayList<>();
        try (TextTokenizer t = TextTokenizer.open(tokenizerDir)) {
            for (String s : EvalInputs.SENTENCES) {
                long[] ids = t.encode(s);
                long[] ones = new long[ids.length];
                java.util.Arrays.fill(ones, 1);
                Map<String, HostTensor> feed = new LinkedHashMap<>();
                feed.put("input_ids", HostTensor.ofLongs(ids, 1, ids.length));
                feed.put("attention_mask", HostTensor.ofLongs(ones, 1, ids.length));
                feed.put("token_type_ids", HostTensor.ofLongs(new long[ids.length], 1, ids.length));
                feeds.add(feed);
            }
        }
        List<OrtSession> sessions = new ArrayList<>();
        try {
            for (Path m : models) {
                sessions.add(OrtSessions.open(m, threads));
            }
            long[][] nanos = new long[models.size()][rounds];
            for (int r = -2; r < rounds; r++) {
                // sentence by sentence, the models in turn: a burst of someone else's work hits all of them alike
                for (Map<String, HostTensor> feed : feeds) {
                    for (int i = 0; i < sessions.size(); i++) {
                        OrtSession s = sessions.get(i);
                        Map<String, HostTensor> in = new LinkedHashMap<>(feed);
                        in.keySet().retainAll(s.getInputNames());
                        long t0 = System.nanoTime();
                        OrtRunner.run(s, in);
                        if (r >= 0) {
                            nanos[i][r] += System.nanoTime() - t0;
                        }
                    }
                }
            }
            List<Figure> figures = new ArrayList<>();
            double first = Median.millis(nanos[0]);
            for (int i = 0; i < models.size(); i++) {
                double ms = Median.millis(nanos[i]);
                figures.add(new Figure(models.get(i), ms, ms / first));
            }
            return figures;
        } finally {
            sessions.forEach(s -> {
                try {
                    s.close();
                } catch (OrtException ignored) {
                    // closing only
                }
            });
        }
    }
}
