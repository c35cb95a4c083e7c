package dev.stepwise.runtime.checkpoint;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.tensor.TensorBytes;
import dev.stepwise.runtime.checkpoint.torchbin.TorchBinFile;
import dev.stepwise.runtime.model.WeightSpec;
import java.io.IOException;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The weights of a Hugging Face checkpoint folder: a single {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}; failing those, a PyTorch {@code pytorch_model.bin} or shards listed by
 * {@code pytorch_model.bin.index.json} (read without Python by {@link TorchBinFile}). Tensors are memory-mapped; F32
 * ones are handed out without a copy.
 */
public final class Checkpoint implements WeightSource, AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String BIN_FILE = "pytorch_model.bin";
    public static final String BIN_INDEX_FILE = "pytorch_model.bin.index.json";

    private final Path dir;
    private final List<TensorFile> files;
    /** Tensor name → the file holding it, in header (or index) order. */
    private final Map<String, TensorFile> byName;

    private Checkpoint(Path dir, List<TensorFile> files, Map<String, TensorFile> byName) {
        this.dir = dir;
        this.files = List.copyOf(files);
        this.byName = Collections.unmodifiableMap(byName);
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new StepwiseException(dir + ": " + (Files.exists(dir) ? "not a folder" : "folder not found")
                    + " (expected a Hugging Face checkpoint folder with " + SINGLE_FILE + ", " + BIN_FILE + " or their index)");
        }
        // safetensors first, as transformers does: a folder holding both formats is read without any pickle.
        if (Files.isRegularFile(dir.resolve(SINGLE_FILE))) {
            return openSingle(dir, SafetensorsFile.open(dir.resolve(SINGLE_FILE)));
        } else if (Files.isRegularFile(dir.resolve(INDEX_FILE))) {
            return openSharded(dir, dir.resolve(INDEX_FILE), SafetensorsFile::open);
        } else if (Files.isRegularFile(dir.resolve(BIN_FILE))) {
            return openSingle(dir, TorchBinFile.open(dir.resolve(BIN_FILE)));
        } else if (Files.isRegularFile(dir.resolve(BIN_INDEX_FILE))) {
            return openSharded(dir, dir.resolve(BIN_INDEX_FILE), TorchBinFile::open);
        }
        throw new StepwiseException(dir + ": no " + SINGLE_FILE + ", " + INDEX_FILE + ", " + BIN_FILE + " or "
                + BIN_INDEX_FILE + " found (expected a Hugging Face checkpoint folder)");
    }

    private static Checkpoint openSingle(Path dir, TensorFile file) {
        Map<String, TensorFile> byName = new LinkedHashMap<>();
        for (String name : file.names()) {
            byName.put(name, file);
        }
        return new Checkpoint(dir, List.of(file), byName);
    }

    private static Checkpoint openSharded(Path dir, Path index, Function<Path, TensorFile> opener) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, TensorFile> shards = new LinkedHashMap<>();
        Map<String, TensorFile> byName = new LinkedHashMap<>();
        Path base = dir.toAbsolutePath().normalize();
        try {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String tensor = e.getKey();
                String shardName = e.getValue();
                TensorFile shard = shards.get(shardName);
                if (shard == null) {
                    Path shardPath = base.resolve(shardName).normalize();
                    if (!base.equals(shardPath.getParent())) {
                        throw new StepwiseException(index + ": shard '" + shardName + "' (for tensor '" + tensor
                                + "') must be a file name inside " + dir);
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new StepwiseException(index + ": shard '" + shardName + "' (for tensor '" + tensor
                                + "') not found in " + dir);
                    }
                    shard = opener.apply(shardPath);
                    shards.put(shardName, shard);
                }
                if (!shard.has(tensor)) {
                    throw new StepwiseException(index + ": tensor '" + tensor + "' is mapped to shard '" + shardName
                            + "', but that shard has no such tensor");
                }
                byName.put(tensor, shard);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(TensorFile::close);
            throw e;
        }
        return new Checkpoint(dir, new ArrayList<>(shards.values()), byName);
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonElement root;
        try (Reader r = Files.newBufferedReader(index, StandardCharsets.UTF_8)) {
            JsonReader reader = new JsonReader(r);
            reader.setStrictness(Strictness.STRICT);
            root = JsonParser.parseReader(reader);
        } catch (JsonParseException e) {
            String why = e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage() : e.getMessage();
            throw new StepwiseException(index + ": malformed JSON: " + why);
        } catch (IOException e) {
            throw new StepwiseException(index + ": cannot read: " + e.getMessage(), e);
        }
        if (!root.isJsonObject() || !root.getAsJsonObject().has("weight_map")
                || !root.getAsJsonObject().get("weight_map").isJsonObject()) {
            throw new StepwiseException(index + ": expected an object with a 'weight_map' object (tensor name → shard file)");
        }
        JsonObject map = root.getAsJsonObject().getAsJsonObject("weight_map");
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.entrySet()) {
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new StepwiseException(index + ": weight_map entry for tensor '" + e.getKey()
                        + "' must be a shard file name, found " + v);
            }
            out.put(e.getKey(), v.getAsString());
        }
        if (out.isEmpty()) {
            throw new StepwiseException(index + ": weight_map is empty");
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    /** The tensor files (safetensors or pytorch_model.bin), in the order they were first needed. */
    public List<TensorFile> files() {
        return files;
    }

    /** The file holding a tensor. */
    public TensorFile fileOf(String name) {
        TensorFile f = byName.get(name);
        if (f == null) {
            throw new StepwiseException(dir + ": no tensor '" + name + "'");
        }
        return f;
    }

    @Override
    public boolean has(String name) {
        return byName.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return fileOf(name).shape(name);
    }

    @Override
    public Set<String> names() {
        return byName.keySet();
    }

    @Override
    public ByteBuffer float32(String name) {
        return fileOf(name).float32(name);
    }

    /** F16 tensors are handed over as stored (no round trip through float32); F32 and BF16 ones are narrowed. */
    @Override
    public ByteBuffer float16(String name) {
        if (dtype(name) == SafetensorsDtype.F16) {
            return raw(name).slice().order(ByteOrder.LITTLE_ENDIAN);
        }
        return WeightSource.super.float16(name);
    }

    /** Streams the tensor from its file, converting each piece to {@code type}; nothing is mapped or widened whole. */
    @Override
    public TensorBytes bytes(String name, DType type) {
        return ConvertedTensorBytes.of(fileOf(name), name, type);
    }

    public SafetensorsDtype dtype(String name) {
        return fileOf(name).dtype(name);
    }

    /** The tensor's bytes as stored (read-only mapping), e.g. to copy fp16 weights without widening them. */
    public ByteBuffer raw(String name) {
        return fileOf(name).raw(name);
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    /**
     * Checks that every required tensor is present and every expected tensor that is present has the expected shape.
     * Reports the first problem (and how many more there are) in one line naming the file, tensor and shapes.
     */
    public void checkAgainst(List<WeightSpec> expected) {
        List<String> problems = new ArrayList<>();
        for (WeightSpec spec : expected) {
            TensorFile file = byName.get(spec.name());
            if (file == null) {
                if (!spec.optional()) {
                    problems.add("tensor '" + spec.name() + "' (shape " + Arrays.toString(spec.shape())
                            + ") is missing from " + dir);
                }
                continue;
            }
            long[] actual = file.shape(spec.name());
            if (!Arrays.equals(actual, spec.shape())) {
                problems.add(file.path() + ": tensor '" + spec.name() + "' has shape " + Arrays.toString(actual)
                        + ", expected " + Arrays.toString(spec.shape()));
            }
        }
        if (!problems.isEmpty()) {
            String more = problems.size() == 1 ? "" : " (and " + (problems.size() - 1) + " more problem"
                    + (problems.size() == 2 ? "" : "s") + ")";
            throw new StepwiseException(problems.get(0) + more);
        }
    }

    @Override
    public void close() {
        files.forEach(TensorFile::close);
    }

    @Override
    public String toString() {
        return "Checkpoint(" + dir + ", " + byName.size() + " tensors in " + files.size() + " file(s))";
    }
}
