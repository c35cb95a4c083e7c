package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.export.ExportOptions;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.Generator;
import dev.stepwise.runtime.generate.StepModelSource;
import dev.stepwise.runtime.unroll.StepGraphs;
import dev.stepwise.runtime.unroll.UnrollOptions;
import dev.stepwise.runtime.unroll.Unroller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One opened model and one {@link Generator} shared by 8 threads: greedy, seeded sampling and beam search requests
 * run at once give exactly the tokens they give one by one, on an exported folder and on an unrolled one; and the
 * process's resident memory has no upward trend over 1000 requests (every ONNX Runtime tensor and session a request makes is
 * closed).
 */
class ConcurrentGenerationTest {
    @TempDir
    static Path tmp;
    static Path exported;
    static Path unrolled;

    @BeforeAll
    static void exportAndUnroll() throws IOException {
        Path checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 8);
        exported = tmp.resolve("exported");
        Exporter.export(checkpoint, exported, ExportOptions.defaults().withValidate(false));
        unrolled = Unroller.unroll(checkpoint, tmp.resolve("steps"), UnrollOptions.of(2, 6, 5).withValidate(false))
                .outputDir();
    }

    record Request(List<long[]> prompts, GenerationConfig config) {
    }

    static List<Request> requests(int n) {
        List<Request> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<long[]> prompts = List.of(new long[] {1 + i % 7, 2, 3 + i % 5, 4, 5, 6}, new long[] {9 + i % 3, 8, 7});
            GenerationConfig config = switch (i % 3) {
                case 0 -> GenerationConfig.greedy(5);
                case 1 -> GenerationConfig.sampling(5, 0.9, 40, 0.95, 100 + i);
                default -> GenerationConfig.greedy(5).toBuilder().repetitionPenalty(1.2).build(6);
            };
            out.add(new Request(prompts, config));
        }
        // beam search fills 2 rows with one prompt × 2 beams (the unrolled batch)
        for (int i = 0; i < n / 3; i++) {
            out.add(new Request(List.of(new long[] {3, 1 + i, 4, 1, 5}), GenerationConfig.beamSearch(5, 2, 1.0, false, 2)));
        }
        return out;
    }

    static void assertConcurrentEqualsSequential(StepModelSource model) throws Exception {
        Generator generator = new Generator(model);
        List<Request> requests = requests(24);
        List<List<List<long[]>>> sequential = new ArrayList<>();
        for (Request r : requests) {
            sequential.add(generator.generate(r.prompts(), r.config()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<List<List<long[]>>>> futures = new ArrayList<>();
            for (Request r : requests) {
                futures.add(pool.submit(() -> generator.generate(r.prompts(), r.config())));
            }
            for (int i = 0; i < requests.size(); i++) {
                List<List<long[]>> expected = sequential.get(i);
                List<List<long[]>> actual = futures.get(i).get();
                assertEquals(expected.size(), actual.size());
                for (int p = 0; p < expected.size(); p++) {
                    assertEquals(expected.get(p).size(), actual.get(p).size());
                    for (int s = 0; s < expected.get(p).size(); s++) {
                        assertArrayEquals(expected.get(p).get(s), actual.get(p).get(s), "request " + i + " " + requests.get(i).config());
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void eightThreadsOnOneExportedModelGiveTheSequentialTokens() throws Exception {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            assertConcurrentEqualsSequential(model);
        }
    }

    @Test
    void eightThreadsOnOneUnrolledFolderGiveTheSequentialTokens() throws Exception {
        try (StepGraphs graphs = StepGraphs.open(unrolled, 1)) {
            assertConcurrentEqualsSequential(graphs);
        }
    }

    @Test
    void residentMemoryStaysFlatOverAThousandRequests() throws Exception {
        try (ExportedModel model = ExportedModel.open(exported, 1)) {
            Generator generator = new Generator(model);
            List<Request> requests = requests(30);
            for (int i = 0; i < 200; i++) { // warm-up: allocator pools, JIT
                Request r = requests.get(i % requests.size());
                generator.generate(r.prompts(), r.config());
            }
            // RSS sampled every 50 requests: allocator pools make it wobble by tens of MB, so the test is on the
            // trend (least-squares slope), which a leak of even 20 kB per request would push past the bound.
            int requestsRun = 1000;
            int every = 50;
            double[] x = new double[requestsRun / every];
            double[] y = new double[x.length];
            for (int i = 0; i < requestsRun; i++) {
                Request r = requests.get(i % requests.size());
                generator.generate(r.prompts(), r.config());
                if ((i + 1) % every == 0) {
                    x[(i + 1) / every - 1] = i + 1;
                    y[(i + 1) / every - 1] = residentKb();
                }
            }
            double slope = slope(x, y);
            System.out.printf("resident memory over %d requests: %.0f kB first sample, %.0f kB last, trend %+.1f kB per"
                    + " 1000 requests%n", requestsRun, y[0], y[y.length - 1], slope * 1000);
            assertTrue(slope * 1000 < 20 * 1024, "RSS grows by " + slope * 1000 + " kB per 1000 requests");
        }
    }

    static double slope(double[] x, double[] y) {
        double mx = java.util.Arrays.stream(x).average().orElse(0);
        double my = java.util.Arrays.stream(y).average().orElse(0);
        double sxy = 0;
        double sxx = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxy / sxx;
    }

    static long residentKb() throws IOException {
        System.gc();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
