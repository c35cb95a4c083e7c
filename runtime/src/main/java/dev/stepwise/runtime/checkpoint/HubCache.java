package dev.stepwise.runtime.checkpoint;

import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds a Hugging Face model id ({@code org/name}, {@code name}, optionally {@code @revision}) in the local Hugging
 * Face cache, offline: nothing is ever downloaded. The cache is {@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else
 * {@code ~/.cache/huggingface/hub}, laid out as huggingface_hub writes it:
 * {@code models--org--name/refs/<branch or tag>} holds a commit hash and {@code models--org--name/snapshots/<commit>/}
 * holds the files (symlinks into {@code ../../blobs/}). The revision is a branch or tag (through {@code refs/}) or a
 * commit hash; it defaults to {@code main}.
 */
public final class HubCache {
    /** huggingface_hub's repo id rule: one optional namespace, then the name; no "--" or ".." anywhere. */
    private static final Pattern ID = Pattern.compile(
            "((?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9][A-Za-z0-9._/-]*))?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    private final Path root;

    /** The cache at {@code root} (the folder holding {@code models--*}). */
    public HubCache(Path root) {
        this.root = root;
    }

    /**
     * The cache the environment names, as huggingface_hub chooses it.
     *
     * @param env      environment variables ({@code System.getenv()} in the CLI; tests pass their own)
     * @param userHome the folder {@code ~} stands for
     */
    public static HubCache fromEnvironment(Map<String, String> env, Path userHome) {
        String hubCache = env.get("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return new HubCache(expandHome(hubCache, userHome));
        }
        String home = env.get("HF_HOME");
        if (home != null && !home.isBlank()) {
            return new HubCache(expandHome(home, userHome).resolve("hub"));
        }
        return new HubCache(userHome.resolve(".cache").resolve("huggingface").resolve("hub"));
    }

    /** The cache folder searched. */
    public Path root() {
        return root;
    }

    /**
     * What a {@code --model} argument names: an existing local folder or file always wins; otherwise an argument that
     * reads as a model id is looked up in this cache (a one-line {@link StepwiseException} naming the id and the
     * cache path when it is not there); anything else is returned as a path for the caller to report.
     */
    public Path locate(String argument) {
        Path local = Path.of(argument);
        if (Files.exists(local) || !isModelId(argument)) {
            return local;
        }
        return snapshot(argument);
    }

    /** Whether {@code text} has the form {@code [org/]name[@revision]} (and so cannot be meant as a deeper path). */
    public static boolean isModelId(String text) {
        return ID.matcher(text).matches() && !text.contains("--") && !text.contains("..");
    }

    /** The snapshot folder of {@code org/name[@revision]}; a one-line error naming what is missing where. */
    public Path snapshot(String modelId) {
        Matcher m = ID.matcher(modelId);
        if (!m.matches() || modelId.contains("--") || modelId.contains("..")) {
            throw new StepwiseException("'" + modelId + "' is not a model id of the form org/name[@revision]");
        }
        String repo = m.group(1);
        String revision = m.group(2) != null ? m.group(2) : "main";
        Path repoDir = root.resolve("models--" + repo.replace("/", "--"));
        if (!Files.isDirectory(repoDir)) {
            throw new StepwiseException(repo + ": no such local folder and not in the Hugging Face cache (no "
                    + repoDir + "; nothing is downloaded)");
        }
        String commit = revision;
        Path ref = repoDir.resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref)) {
            try {
                commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new StepwiseException(ref + ": cannot read: " + e.getMessage(), e);
            }
            if (!COMMIT.matcher(commit).matches()) {
                throw new StepwiseException(ref + ": expected a 40-character commit hash, found '" + commit + "'");
            }
        }
        Path snapshot = repoDir.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            throw new StepwiseException(repo + "@" + revision + ": revision not in the Hugging Face cache (no "
                    + (commit.equals(revision) ? ref + " nor " + snapshot : snapshot + ", named by " + ref) + ")");
        }
        return snapshot;
    }

    private static Path expandHome(String path, Path userHome) {
        return path.equals("~") ? userHome : path.startsWith("~/") ? userHome.resolve(path.substring(2)) : Path.of(path);
    }
}
