package dev.stepwise.runtime.checkpoint;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.ProgressListener;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.CausalLm;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.WeightSpec;
import dev.stepwise.runtime.ops.WeightInit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Writes a Hugging Face checkpoint folder of random weights ({@code config.json}, {@code generation_config.json},
 * {@code model.safetensors}) for tests and benchmarks that need a real-sized model without downloading one.
 * Values are deterministic for a seed and streamed to disk, so even the 124M-parameter GPT-2 preset needs no heap.
 *
 * <p>Any architecture on the class path can be written whose class names presets ({@link CausalLm#randomPresets}):
 * the tensors are what its forward declares for the preset's config (run on the shape-only backend), each drawn as
 * its declaration says ({@link WeightInit}); tensors a checkpoint may leave out (a tied LM head) are left out.
 */
public final class RandomCheckpoint {
    private static final Gson JSON = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    private RandomCheckpoint() {
    }

    /** Architectures a random checkpoint can be written for, by {@code model_type}. */
    public static List<String> archs() {
        List<String> archs = new ArrayList<>();
        Architectures.all().forEach((type, a) -> {
            if (!a.newModel().randomPresets().isEmpty()) {
                archs.add(type);
            }
        });
        return archs;
    }

    /** Presets of one architecture; throws naming the valid architectures when it is unknown. */
    public static List<String> presets(String arch) {
        return List.copyOf(presetsOf(architecture(arch)).keySet());
    }

    /** The {@code config.json} of a preset (a fresh object the caller may change), e.g. to resize it. */
    public static JsonObject config(String arch, String preset) {
        Map<String, JsonObject> presets = presetsOf(architecture(arch));
        JsonObject config = presets.get(preset);
        if (config == null) {
            throw new StepwiseException("unknown preset '" + preset + "' for " + arch + "; valid presets: "
                    + String.join(", ", presets.keySet()));
        }
        return config.deepCopy();
    }

    /**
     * The tensors a random checkpoint of {@code arch} with this {@code config.json} holds, in the order the forward
     * first reads them; {@code source} names the config in error messages.
     */
    public static List<RandomTensor> tensors(String arch, JsonObject config, Path source) {
        Architecture a = architecture(arch);
        ModelConfig modelConfig = ModelConfig.of(source, config, a.spec().configKeys());
        List<RandomTensor> tensors = new ArrayList<>();
        for (WeightSpec w : a.newModel().expectedWeights(modelConfig)) {
            if (!w.optional()) {
                tensors.add(new RandomTensor(w.name(), w.shape(), w.init().mean(), w.init().std(w.shape())));
            }
        }
        return tensors;
    }

    public static void write(String arch, String preset, Path outputDir, long seed) {
        write(arch, preset, outputDir, seed, ProgressListener.SILENT);
    }

    public static void write(String arch, String preset, Path outputDir, long seed, ProgressListener progress) {
        write(arch, preset, outputDir, seed, SafetensorsDtype.F32, progress);
    }

    /**
     * Writes the folder. Refuses to overwrite an existing folder that is not empty; builds everything in a hidden
     * temporary folder beside the target and moves it into place at the end, so a failure leaves nothing behind.
     * Weights are stored as {@code dtype} (F32, F16 or BF16: values drawn in float32, rounded to nearest even), and
     * {@code config.json}'s {@code torch_dtype} says so, as transformers' {@code save_pretrained} writes it.
     */
    public static void write(String arch, String preset, Path outputDir, long seed, SafetensorsDtype dtype,
                             ProgressListener progress) {
        write(arch, preset, config(arch, preset), outputDir, seed, dtype, progress);
    }

    /**
     * Writes the folder for {@code config} (a preset's {@link #config}, possibly resized; {@code label} names it in
     * the weights' metadata), as {@link #write(String, String, Path, long, SafetensorsDtype, ProgressListener)} does.
     */
    public static void write(String arch, String label, JsonObject config, Path outputDir, long seed,
                             SafetensorsDtype dtype, ProgressListener progress) {
        if (dtype != SafetensorsDtype.F32 && dtype != SafetensorsDtype.F16 && dtype != SafetensorsDtype.BF16) {
            throw new StepwiseException("random checkpoints are F32, F16 or BF16, not " + dtype);
        }
        String preset = label;
        Path target = outputDir.toAbsolutePath().normalize();
        checkWritableTarget(target);

        Path temp;
        try {
            Files.createDirectories(target.getParent());
            temp = SiblingTemp.newDirectory(target);
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot create a temporary folder beside it: " + e.getMessage(), e);
        }
        try {
            config.addProperty("torch_dtype", switch (dtype) {
                case F16 -> "float16";
                case BF16 -> "bfloat16";
                default -> "float32";
            });
            writeJson(temp.resolve("config.json"), config);
            writeJson(temp.resolve("generation_config.json"), generationConfig(config));
            List<RandomTensor> tensors = tensors(arch, config, target.resolve("config.json"));
            writeWeights(temp.resolve(Checkpoint.SINGLE_FILE), tensors, arch, preset, seed, dtype, progress);
            moveIntoPlace(temp, target);
        } catch (IOException e) {
            deleteRecursively(temp);
            throw new StepwiseException(target + ": cannot write random checkpoint: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            deleteRecursively(temp);
            throw e;
        }
    }

    private static Architecture architecture(String arch) {
        Architecture a = Architectures.all().get(arch);
        if (a == null || presetsOf(a).isEmpty()) {
            throw new StepwiseException("unknown architecture '" + arch + "' for a random checkpoint; valid architectures: "
                    + String.join(", ", archs()));
        }
        return a;
    }

    private static Map<String, JsonObject> presetsOf(Architecture a) {
        return a.newModel().randomPresets();
    }

    private static void checkWritableTarget(Path target) {
        if (!Files.exists(target)) {
            return;
        }
        if (!Files.isDirectory(target)) {
            throw new StepwiseException(target + ": exists and is not a folder; refusing to overwrite it");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
            if (entries.iterator().hasNext()) {
                throw new StepwiseException(target + ": folder exists and is not empty; refusing to overwrite it");
            }
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** What transformers derives from the model config when it saves a generation config. */
    private static JsonObject generationConfig(JsonObject config) {
        JsonObject g = new JsonObject();
        g.addProperty("_from_model_config", true);
        for (String key : List.of("bos_token_id", "eos_token_id", "pad_token_id")) {
            if (config.has(key) && !config.get(key).isJsonNull()) {
                g.add(key, config.get(key));
            }
        }
        return g;
    }

    private static void writeJson(Path file, JsonObject json) throws IOException {
        Files.writeString(file, JSON.toJson(json) + "\n", StandardCharsets.UTF_8);
    }

    private static void writeWeights(Path file, List<RandomTensor> tensors, String arch, String preset, long seed,
                                     SafetensorsDtype dtype, ProgressListener progress) {
        List<PlannedTensor> plan = new ArrayList<>();
        long total = 0;
        for (RandomTensor t : tensors) {
            plan.add(new PlannedTensor(t.name(), dtype, t.shape()));
            total += SafetensorsEntry.elementCount(t.shape());
        }
        // "format": "pt" is what transformers checks for when loading safetensors.
        // Insertion-ordered, so a seed gives byte-identical files run to run (Map.of's order varies between JVMs).
        Map<String, String> metadata = new java.util.LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("stepwise.random", arch + "/" + preset + " seed " + seed);
        progress.stage("writing random " + arch + "/" + preset + " weights", total);
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, plan, metadata)) {
            for (RandomTensor t : tensors) {
                NormalSampler sampler = new NormalSampler(NormalSampler.seedFor(seed, t.name()));
                writer.write(t.name(), (first, chunk) -> {
                    int n = chunk.remaining();
                    sampler.fill(chunk, t.mean(), t.std());
                    progress.advance(n);
                });
            }
        }
        progress.done();
    }

    private static void moveIntoPlace(Path temp, Path target) throws IOException {
        // An empty target folder was allowed by the caller's check; rename cannot replace it portably, so remove it.
        Files.deleteIfExists(target);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort: a leftover hidden .partial folder does not hide a real one
        }
    }
}
