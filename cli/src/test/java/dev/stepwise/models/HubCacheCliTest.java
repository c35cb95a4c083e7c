package dev.stepwise.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --model org/name[@revision]} through the CLI, from a Hugging Face cache built here the way huggingface_hub
 * lays it out (snapshot files are symlinks to {@code ../../blobs/<sha256>}), with the environment passed to
 * {@link Main#run(Map, String...)}: export reads the safetensors and copies the side files through the symlinks,
 * generate runs from an id, and a missing id or revision is one error line naming it and the cache path.
 */
class HubCacheCliTest {
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path tmp;

    record Outcome(int status, String out, String err) {
    }

    Outcome run(Map<String, String> env, String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int status = Main.run(env, args);
            return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    /** Puts every file of {@code folder} into the cache as repo {@code org--name} at {@link #COMMIT}, branch main. */
    static void addToCache(Path hub, String repoFolder, Path folder) throws IOException {
        Path repo = hub.resolve(repoFolder);
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(COMMIT));
        try (Stream<Path> files = Files.list(folder)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String hash = sha256(f);
                Files.copy(f, blobs.resolve(hash));
                Files.createSymbolicLink(snapshot.resolve(f.getFileName()), Path.of("../../blobs").resolve(hash));
            }
        }
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT);
    }

    static String sha256(Path f) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void exportAndGenerateFromModelIds() throws IOException {
        Path hub = tmp.resolve("hub");
        addToCache(hub, "models--openai-community--gpt2-50k", Fixtures.path("gpt2-fake-tokenizer-50k"));
        Path snapshot = hub.resolve("models--openai-community--gpt2-50k/snapshots").resolve(COMMIT);
        assertTrue(Files.isSymbolicLink(snapshot.resolve("model.safetensors")), "the snapshot holds symlinks");
        Map<String, String> env = Map.of("HF_HOME", tmp.toString());   // HF_HOME/hub, as huggingface_hub

        Path exported = tmp.resolve("exported");
        Outcome export = run(env, "export", "--model", "openai-community/gpt2-50k", "--output", exported.toString());
        assertEquals(0, export.status(), export.err());
        for (String f : new String[] {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
            assertTrue(Files.isRegularFile(exported.resolve(f), LinkOption.NOFOLLOW_LINKS), f + " copied as a file, not a link");
            assertEquals(Files.readString(snapshot.resolve(f)), Files.readString(exported.resolve(f)), f);
        }

        // An exported folder in the cache runs by id too, at a revision given by its commit.
        addToCache(hub, "models--me--gpt2-50k-onnx", exported);
        Outcome byId = run(env, "generate", "--model", "me/gpt2-50k-onnx@" + COMMIT, "--input-ids", "15496,11,616",
                "--max-new-tokens", "3", "--print-ids");
        Outcome byFolder = run(env, "generate", "--model", exported.toString(), "--input-ids", "15496,11,616",
                "--max-new-tokens", "3", "--print-ids");
        assertEquals(0, byId.status(), byId.err());
        assertEquals(byFolder.out(), byId.out());
    }

    @Test
    void missingIdOrRevisionIsOneErrorLine() throws IOException {
        Path hub = tmp.resolve("cache");
        addToCache(hub, "models--org--tiny", Fixtures.path("gpt2-tiny-random"));
        Map<String, String> env = Map.of("HF_HUB_CACHE", hub.toString(), "HF_HOME", tmp.resolve("unused").toString());

        Outcome missing = run(env, "export", "--model", "org/absent", "--output", tmp.resolve("out").toString());
        assertEquals(1, missing.status());
        assertEquals("error: org/absent: no such local folder and not in the Hugging Face cache (no "
                + hub.resolve("models--org--absent") + "; nothing is downloaded)", missing.err().strip());
        assertFalse(Files.exists(tmp.resolve("out")));

        Outcome revision = run(env, "unroll", "--model", "org/tiny@v2", "--output", tmp.resolve("out").toString(),
                "--batch-size", "1", "--sequence-length", "4", "--max-new-tokens", "2");
        assertEquals(1, revision.status());
        String line = revision.err().strip();
        assertTrue(line.startsWith("error: org/tiny@v2: revision not in the Hugging Face cache")
                && line.contains(hub.resolve("models--org--tiny/refs/v2").toString()) && line.lines().count() == 1, line);

        Outcome bench = run(env, "bench", "--model", "org/absent@main");
        assertEquals(1, bench.status());
        assertTrue(bench.err().strip().startsWith("error: org/absent: "), bench.err());
    }
}
