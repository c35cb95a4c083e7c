package dev.stepwise.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model ids resolve in a Hugging Face cache laid out as huggingface_hub writes it (refs, snapshots of symlinks into
 * blobs), built here in a temporary folder; the environment is passed in, never changed.
 */
class HubCacheTest {
    static final String MAIN = "a".repeat(40);
    static final String V1 = "b".repeat(40);

    @TempDir
    Path tmp;

    /** models--org--name with refs/main → MAIN, refs/v1 → V1, each snapshot's config.json a symlink to a blob. */
    Path cache(String repoFolder) throws IOException {
        Path root = tmp.resolve("hub");
        Path repo = root.resolve(repoFolder);
        Files.createDirectories(repo.resolve("blobs"));
        Files.createDirectories(repo.resolve("refs"));
        for (String commit : new String[] {MAIN, V1}) {
            Path blob = Files.writeString(repo.resolve("blobs").resolve("blob-" + commit.charAt(0)), "{\"commit\":\"" + commit + "\"}");
            Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
            Files.createSymbolicLink(snapshot.resolve("config.json"), Path.of("../../blobs").resolve(blob.getFileName()));
        }
        Files.writeString(repo.resolve("refs/main"), MAIN, StandardCharsets.UTF_8);       // no newline, as the hub writes it
        Files.writeString(repo.resolve("refs/v1"), V1 + "\n", StandardCharsets.UTF_8);
        return root;
    }

    @Test
    void cacheFolderFromTheEnvironment() {
        Path home = Path.of("/home/u");
        assertEquals(Path.of("/c/hub"), HubCache.fromEnvironment(Map.of("HF_HUB_CACHE", "/c/hub", "HF_HOME", "/h"), home).root());
        assertEquals(Path.of("/h/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "/h"), home).root());
        assertEquals(Path.of("/home/u/hf/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "~/hf"), home).root());
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HubCache.fromEnvironment(Map.of(), home).root());
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HubCache.fromEnvironment(Map.of("HF_HUB_CACHE", ""), home).root());
    }

    @Test
    void revisionsResolveThroughRefsOrAsCommits() throws IOException {
        Path root = cache("models--org--name");
        HubCache hub = HubCache.fromEnvironment(Map.of("HF_HUB_CACHE", root.toString()), tmp);
        Path snapshots = root.resolve("models--org--name/snapshots");
        assertEquals(snapshots.resolve(MAIN), hub.locate("org/name"), "default revision main");
        assertEquals(snapshots.resolve(MAIN), hub.locate("org/name@main"));
        assertEquals(snapshots.resolve(V1), hub.locate("org/name@v1"), "a tag or branch through refs/");
        assertEquals(snapshots.resolve(V1), hub.locate("org/name@" + V1), "a commit hash");
        // The snapshot's files are symlinks into blobs; reading through them gives the blob.
        assertEquals("{\"commit\":\"" + V1 + "\"}", Files.readString(hub.locate("org/name@v1").resolve("config.json")));
    }

    @Test
    void idWithoutOrganisation() throws IOException {
        Path root = cache("models--gpt2");
        assertEquals(root.resolve("models--gpt2/snapshots").resolve(MAIN), new HubCache(root).locate("gpt2"));
    }

    @Test
    void missingIdNamesTheIdAndTheCachePath() throws IOException {
        Path root = cache("models--org--name");
        StepwiseException e = assertThrows(StepwiseException.class, () -> new HubCache(root).locate("org/other"));
        assertTrue(e.getMessage().startsWith("org/other: "), e.getMessage());
        assertTrue(e.getMessage().contains(root.resolve("models--org--other").toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void missingRevisionNamesTheRevisionAndWhereItWasLooked() throws IOException {
        Path root = cache("models--org--name");
        HubCache hub = new HubCache(root);
        StepwiseException e = assertThrows(StepwiseException.class, () -> hub.locate("org/name@nope"));
        assertTrue(e.getMessage().startsWith("org/name@nope: revision not in the Hugging Face cache"), e.getMessage());
        assertTrue(e.getMessage().contains(root.resolve("models--org--name/refs/nope").toString()), e.getMessage());

        // refs/main naming a commit whose snapshot is gone
        Files.writeString(root.resolve("models--org--name/refs/main"), "c".repeat(40));
        e = assertThrows(StepwiseException.class, () -> hub.locate("org/name"));
        assertTrue(e.getMessage().contains(root.resolve("models--org--name/snapshots").resolve("c".repeat(40)).toString()),
                e.getMessage());

        Files.writeString(root.resolve("models--org--name/refs/main"), "not a hash");
        e = assertThrows(StepwiseException.class, () -> hub.locate("org/name"));
        assertTrue(e.getMessage().contains("refs/main: expected a 40-character commit hash"), e.getMessage());
    }

    @Test
    void anExistingLocalPathWins() throws IOException {
        // "src/test" exists relative to the module folder (the tests' working directory) and reads like an id.
        Path root = cache("models--src--test");
        assertTrue(Files.isDirectory(Path.of("src/test")));
        assertEquals(Path.of("src/test"), new HubCache(root).locate("src/test"));
        // Paths that cannot be ids are left for the command to report.
        assertEquals(Path.of("/no/such/dir"), new HubCache(root).locate("/no/such/dir"));
        assertEquals(Path.of("a/b/c"), new HubCache(root).locate("a/b/c"));
        assertFalse(HubCache.isModelId("./x"));
        assertFalse(HubCache.isModelId("org/../x"));
        assertTrue(HubCache.isModelId("TinyLlama/TinyLlama-1.1B-Chat-v1.0@refs/pr/1"));
    }
}
