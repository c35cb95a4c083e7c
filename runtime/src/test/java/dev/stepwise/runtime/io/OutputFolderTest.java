package dev.stepwise.runtime.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFolderTest {
    @TempDir
    Path tmp;

    /** A pid no process has: one that has just exited. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    @Test
    void createRemovesOnlyHiddenFoldersOfDeadProcesses() throws Exception {
        long dead = deadPid();
        long live = ProcessHandle.current().pid();
        Path staleTemp = Files.createDirectories(tmp.resolve(".out.tmp-" + dead + "-ab12"));
        Files.writeString(staleTemp.resolve("model.onnx"), "half");
        Path staleFloat = Files.createDirectories(tmp.resolve(".out.float-" + dead + "-cd34"));
        Path liveTemp = Files.createDirectories(tmp.resolve(".out.tmp-" + live + "-ef56"));
        Path otherTarget = Files.createDirectories(tmp.resolve(".other.tmp-" + dead + "-ab12"));
        Path notOurs = Files.createDirectories(tmp.resolve(".out.tmp-keep"));
        try (OutputFolder f = OutputFolder.create(tmp.resolve("out"))) {
            assertTrue(f.path().getFileName().toString().startsWith(".out.tmp-" + live + "-"), f.path().toString());
        }
        assertFalse(Files.exists(staleTemp));
        assertFalse(Files.exists(staleFloat));
        assertTrue(Files.exists(liveTemp), "a live process's folder stays");
        assertTrue(Files.exists(otherTarget), "another target's folder stays");
        assertTrue(Files.exists(notOurs), "a name not of our scheme stays");
    }

    @Test
    void anOldResultWhoseReplacementNeverArrivedIsMovedBack() throws Exception {
        Path old = Files.createDirectories(tmp.resolve(".out.old-" + deadPid() + "-1234"));
        Files.writeString(old.resolve("stepwise.json"), "{}");
        OutputFolder.create(tmp.resolve("out")).close();
        assertEquals("{}", Files.readString(tmp.resolve("out/stepwise.json")));
        assertFalse(Files.exists(old));
    }

    @Test
    void commitReplacesAndLeavesNoHiddenFolder() throws Exception {
        Path out = tmp.resolve("out");
        for (String content : List.of("first", "second")) {
            try (OutputFolder f = OutputFolder.create(out)) {
                Files.writeString(f.path().resolve("a"), content);
                f.commit();
            }
            assertEquals(content, Files.readString(out.resolve("a")));
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(out), s.toList());
        }
    }

    @Test
    void pathsInsideTheTemporaryFolderAreShownInTheTarget() {
        Path out = tmp.resolve("out");
        try (OutputFolder f = OutputFolder.create(out)) {
            assertEquals(out.resolve("model.onnx"), OutputFolder.shown(f.path().resolve("model.onnx")));
        }
    }
}
