package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.bench.LoopBenchmark;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark's plumbing on a toy size (figures are printed, never asserted). */
class LoopBenchmarkTest {
    @TempDir
    Path tmp;

    @Test
    void runsTheThreeEnginesAndComparesTheirTokens() {
        LoopBenchmark.Options o = LoopBenchmark.Options.defaults().withBatch(3).withLengths(5, 4)
                .withModel(300, 32, 2, 4).withRepeats(2).withThreads(1).withWorkDir(tmp);
        LoopBenchmark.Result r = LoopBenchmark.run(o);
        System.out.print(r.report());
        assertEquals(2, r.loopSeconds().length);
        assertTrue(r.loopEqualsJava(), "loop graph and Java step loop choose the same tokens");
        assertEquals(3, r.torchRowsEqual(), "tiny model: PyTorch agrees on every row");
        assertTrue(r.loopMedian() > 0 && r.javaOverLoop() > 0 && r.torchOverLoop() > 0);
        assertTrue(r.loopGraphNodes() > 100);
        assertTrue(r.report().contains("vs loop"));
    }
}
