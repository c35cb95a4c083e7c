package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.stepwise.runtime.checkpoint.RandomCheckpoint;
import dev.stepwise.runtime.generate.ExportedModel;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An export killed at any point leaves no output folder that looks complete, the next run cleans up after it, Ctrl-C
 * removes the temporary folder, and a full disk is one line and nothing written. The CLI runs in a child JVM, so the
 * kill is a real SIGKILL (or SIGTERM).
 */
class CrashSafetyTest {
    /** Fractions of a whole export's time at which to kill one: JVM start, tracing, writing, validating, moving. */
    private static final double[] KILL_AT = {0.1, 0.3, 0.5, 0.7, 0.85, 0.95};
    private static final Pattern HIDDEN = Pattern.compile("\\.(.+)\\.(tmp|old|float)-(\\d+)-[0-9a-f]+");

    @TempDir
    Path tmp;
    Path checkpoint;

    @BeforeEach
    void checkpoint() {
        checkpoint = tmp.resolve("ckpt");
        RandomCheckpoint.write("gpt2", "tiny", checkpoint, 7);
    }

    @Test
    void sigkillAtAnyPointLeavesNothingOrACompleteFolder() throws Exception {
        for (long millis : killPoints()) {
            Path out = tmp.resolve("out-" + millis);
            Process p = export(out).process();
            boolean finished = p.waitFor(millis, TimeUnit.MILLISECONDS);
            String seen = siblings(out).toString();
            p.destroyForcibly();
            p.waitFor(60, TimeUnit.SECONDS);
            System.out.printf("killed after %d ms (%s): hidden beside it %s, target %s%n", millis,
                    finished ? "had finished" : "running", seen, Files.exists(out) ? "present" : "absent");
            assertNothingOrComplete(out);
            assertCleanAfterNextRun(out);
        }
    }

    @Test
    void sigkillWhileReplacingAnEarlierResultKeepsOneCompleteFolder() throws Exception {
        Path out = tmp.resolve("out");
        assertEquals(0, run(export(out)).status());
        for (long millis : killPoints()) {
            Process p = export(out).process();
            p.waitFor(millis, TimeUnit.MILLISECONDS);
            p.destroyForcibly();
            p.waitFor(60, TimeUnit.SECONDS);
            if (!Files.exists(out)) {
                // killed between moving the old result aside and moving the new one in: the old one is still whole
                assertTrue(siblings(out).stream().anyMatch(n -> n.contains(".old-")), "old result kept: " + siblings(out));
            } else {
                assertComplete(out);
            }
            assertCleanAfterNextRun(out);
        }
    }

    @Test
    void sigtermRemovesTheTemporaryFolder() throws Exception {
        Path out = tmp.resolve("out");
        Process p = export(out).process();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (siblings(out).isEmpty() && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assumeTrue(p.isAlive(), "the export finished before a temporary folder was seen");
        p.destroy();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child exits on SIGTERM");
        assertEquals(List.of(), siblings(out), "temporary folders left after SIGTERM");
        assertNothingOrComplete(out);
    }

    @Test
    void fullDiskIsOneLineAndLeavesNothing() throws Exception {
        Path small = Files.createDirectories(tmp.resolve("small"));
        assumeTrue(command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small.toString()) == 0,
                "cannot mount a small tmpfs here (not root?)");
        try {
            Outcome o = run(export(small.resolve("out")));
            assertEquals(1, o.status(), o.stderr());
            List<String> errors = o.stderr().lines().filter(l -> l.startsWith("error: ")).toList();
            assertEquals(1, errors.size(), o.stderr());
            String line = errors.get(0);
            System.out.println("full disk: " + line);
            assertTrue(line.toLowerCase().contains("no space left"), line);
            assertTrue(line.contains(small.resolve("out").toString()), "names the target: " + line);
            try (Stream<Path> left = Files.list(small)) {
                assertEquals(List.of(), left.toList(), "nothing left on the full disk");
            }
        } finally {
            command("umount", small.toString());
        }
    }

    /** Kill delays spread over the time a whole export takes here (the tiny preset takes about 1.5 s). */
    private long[] killPoints() throws Exception {
        long started = System.nanoTime();
        assertEquals(0, run(export(tmp.resolve("timing"))).status());
        long whole = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        long[] points = new long[KILL_AT.length];
        for (int i = 0; i < points.length; i++) {
            points[i] = Math.max(50, Math.round(whole * KILL_AT[i]));
        }
        System.out.println("a whole export takes " + whole + " ms; killing after " + java.util.Arrays.toString(points));
        return points;
    }

    /** A child JVM running the export, and the file its stderr goes to. */
    record Child(Process process, Path stderr) {
    }

    private Child export(Path out) throws IOException {
        Path stderr = Files.createTempFile(tmp, "stderr-", ".txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "dev.stepwise.cli.Main",
                "export", "--model", checkpoint.toString(), "--output", out.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(stderr.toFile())
                .start();
        return new Child(process, stderr);
    }

    record Outcome(int status, String stderr) {
    }

    private static Outcome run(Child c) throws Exception {
        assertTrue(c.process().waitFor(300, TimeUnit.SECONDS), "export finishes");
        return new Outcome(c.process().exitValue(), Files.readString(c.stderr(), StandardCharsets.UTF_8));
    }

    private static int command(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    /** The hidden Stepwise folders beside {@code target}. */
    private static List<String> siblings(Path target) throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(target.getParent())) {
            s.map(p -> p.getFileName().toString()).filter(n -> {
                Matcher m = HIDDEN.matcher(n);
                return m.matches() && m.group(1).equals(target.getFileName().toString());
            }).sorted().forEach(names::add);
        }
        return names;
    }

    private static void assertNothingOrComplete(Path out) {
        if (Files.exists(out)) {
            assertComplete(out);
        }
    }

    private static void assertComplete(Path out) {
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")), out + " has model.onnx");
        assertTrue(Files.isRegularFile(out.resolve("stepwise.json")), out + " has stepwise.json");
        for (String data : OnnxModelReader.load(out.resolve("model.onnx")).externalFiles()) {
            assertTrue(Files.isRegularFile(out.resolve(data)), out + " has " + data);
        }
        try (ExportedModel m = ExportedModel.open(out, 1)) {
            assertFalse(m == null);
        }
    }

    /** A normal run over the remains succeeds, and no hidden folder of a dead process is left beside the target. */
    private void assertCleanAfterNextRun(Path out) throws Exception {
        Outcome o = run(export(out));
        assertEquals(0, o.status(), o.stderr());
        assertComplete(out);
        for (String name : siblings(out)) {
            Matcher m = HIDDEN.matcher(name);
            assertTrue(m.matches());
            assertTrue(ProcessHandle.of(Long.parseLong(m.group(3))).isPresent(), "stale folder left: " + name);
        }
    }
}
