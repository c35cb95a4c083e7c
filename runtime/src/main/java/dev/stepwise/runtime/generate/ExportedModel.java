package dev.stepwise.runtime.generate;

import dev.stepwise.runtime.model.ModelFolder;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.Exporter;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An exported folder opened for generation: its ONNX Runtime session, the architecture's contract (input and cache
 * names), the normalized config, and the eos/pad ids ({@code generation_config.json} overrides {@code config.json}).
 * The KV cache's element type is the one the graph declares: float32, or float16 for a {@code --dtype fp16} export
 * (whose float16 logits {@code OnnxTensor.getFloatBuffer()} hands out widened).
 *
 * <p>Thread-safe: one opened model serves concurrent generations (ONNX Runtime sessions allow concurrent runs, and each
 * generation has its own decoding run, cache and logits buffers); {@code ConcurrentGenerationTest} runs 8 threads on
 * one instance. Close it after the last generation.
 */
public final class ExportedModel implements DecoderGraphs, AutoCloseable {
    private final Path dir;
    private final ArchitectureSpec spec;
    private final ModelConfig config;
    private final OrtSession session;
    private final Set<Long> eosIds;
    private final long padId;
    private final OnnxJavaType cacheType;
    private final Logits logits;
    private final Set<String> presentNames;
    private final Map<String, DType> inputTypes;
    /** Positions of the in-place KV cache ({@code export --max-length}); 0 for the copying cache. */
    private final int kvCapacity;

    /** The graph's logits output: name, element type, vocabulary and whether it has only the last position. */
    private record Logits(String name, OnnxJavaType type, int vocab, boolean lastOnly) {
    }

    private ExportedModel(Path dir, ArchitectureSpec spec, ModelConfig config, OrtSession session, Set<Long> eosIds,
                          long padId, OnnxJavaType cacheType, Logits logits, int kvCapacity) {
        this.dir = dir;
        this.spec = spec;
        this.config = config;
        this.session = session;
        this.eosIds = eosIds;
        this.padId = padId;
        this.cacheType = cacheType;
        this.logits = logits;
        this.kvCapacity = kvCapacity;
        this.inputTypes = DecoderGraphs.inputTypes(spec);
        this.presentNames = DecoderGraphs.presentNames(spec.cache(), config.numLayers());
    }

    public static ExportedModel open(Path dir, int threads) {
        if (!Files.isDirectory(dir)) {
            throw new StepwiseException(dir + ": not a folder (expected an exported model folder)");
        }
        Path modelFile = dir.resolve(Exporter.MODEL_FILE);
        if (!Files.isRegularFile(modelFile) && Files.isRegularFile(dir.resolve("encoder_model.onnx"))) {
            throw new StepwiseException(dir + ": a seq2seq export (encoder_model.onnx); generate with it through"
                    + " Seq2SeqModel.open (or stepwise generate); LanguageModel takes decoder-only folders");
        }
        if (!Files.isRegularFile(modelFile)) {
            throw new StepwiseException(dir + ": no " + Exporter.MODEL_FILE + " (export the checkpoint first with 'stepwise export')");
        }
        ModelFolder folder = ModelFolder.read(dir);
        Architecture architecture = folder.architecture();
        ModelConfig config = folder.config();

        FolderTokenIds ids = FolderTokenIds.read(dir, config);
        Set<Long> eos = new LinkedHashSet<>(ids.eos());
        long pad = ids.pad();
        OnnxModelReader.load(modelFile); // the file's checks (external data, opsets, graph), before ONNX Runtime sees it
        OrtSession session = OrtSessions.open(modelFile, threads);
        String firstPast = architecture.spec().cache().pastName(0, "key");
        if (!session.getInputNames().contains(firstPast)) {
            OrtSessions.close(session);
            throw new StepwiseException(modelFile + ": has no past inputs; generation needs a text-generation-with-past export");
        }
        OnnxJavaType cacheType;
        try {
            cacheType = ((TensorInfo) session.getInputInfo().get(firstPast).getInfo()).type;
        } catch (ai.onnxruntime.OrtException | RuntimeException e) {
            OrtSessions.close(session);
            throw new StepwiseException(modelFile + ": cannot read the type of input '" + firstPast + "': " + e.getMessage(), e);
        }
        if (cacheType != OnnxJavaType.FLOAT && cacheType != OnnxJavaType.FLOAT16) {
            OrtSessions.close(session);
            throw new StepwiseException(modelFile + ": input '" + firstPast + "' is " + cacheType
                    + "; the generator supports float and float16 caches");
        }
        Logits logits;
        try {
            logits = logits(dir, architecture.spec(), config, session);
        } catch (RuntimeException e) {
            OrtSessions.close(session);
            throw e;
        }
        int kvCapacity;
        try {
            kvCapacity = Exporter.kvCacheCapacity(dir);
        } catch (RuntimeException e) {
            OrtSessions.close(session);
            throw e;
        }
        return new ExportedModel(dir, architecture.spec(), config, session, eos, pad, cacheType, logits, kvCapacity);
    }

    /**
     * The logits output as the graph declares it; {@code stepwise.json}'s {@code last_logits_only} (an
     * {@code export --last-logits-only} folder) must agree with a declared sequence axis of 1.
     */
    private static Logits logits(Path dir, ArchitectureSpec spec, ModelConfig config, OrtSession session) {
        String name = spec.outputs().get(0).name();
        Path modelFile = dir.resolve(Exporter.MODEL_FILE);
        TensorInfo info;
        try {
            ai.onnxruntime.NodeInfo node = session.getOutputInfo().get(name);
            if (node == null) {
                throw new StepwiseException(modelFile + ": has no output '" + name + "'");
            }
            info = (TensorInfo) node.getInfo();
        } catch (ai.onnxruntime.OrtException e) {
            throw new StepwiseException(modelFile + ": cannot read output '" + name + "': " + e.getMessage(), e);
        }
        long[] shape = info.getShape();
        if (shape.length != 3 || (info.type != OnnxJavaType.FLOAT && info.type != OnnxJavaType.FLOAT16)) {
            throw new StepwiseException(modelFile + ": output '" + name + "' is " + info
                    + "; the generator needs float or float16 logits [batch, sequence, vocab]");
        }
        boolean lastOnly = Exporter.lastLogitsOnly(dir);
        if (lastOnly && shape[1] != 1) {
            throw new StepwiseException(modelFile + ": " + Exporter.MANIFEST_FILE + " says last_logits_only but output '"
                    + name + "' has sequence axis " + shape[1] + ", expected 1");
        }
        int vocab = shape[2] > 0 ? Math.toIntExact(shape[2]) : config.vocabSize();
        return new Logits(name, info.type, vocab, lastOnly);
    }

    @Override
    public Path dir() {
        return dir;
    }

    public ArchitectureSpec spec() {
        return spec;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    public OrtSession session() {
        return session;
    }

    /** The one session answers every run. */
    @Override
    public OrtSession session(int run) {
        return session;
    }

    @Override
    public CacheDecl cache() {
        return spec.cache();
    }

    @Override
    public DType inputType(String name) {
        return inputTypes.getOrDefault(name, DType.INT64);
    }

    @Override
    public boolean prefillTakesPast() {
        return true;
    }

    @Override
    public boolean lastLogitsOnly(int run) {
        return logits.lastOnly();
    }



    /** Positions of the folder's in-place KV cache ({@code export --max-length}), or 0 for the copying cache. */
    public int kvCacheCapacity() {
        return kvCapacity;
    }

    /** An in-place cache folder decodes through {@link InPlaceDecoderRun}; others through the copying run. */
    @Override
    public StepModel start(List<long[]> rows, long pad, boolean reorderable) {
        if (kvCapacity == 0) {
            return DecoderGraphs.super.start(rows, pad, reorderable);
        }
        int longest = rows.stream().mapToInt(p -> p.length).max().orElse(0);
        return KvDecoding.start(new InPlaceDecoderRun(this, rows.size(), kvCapacity), rows, longest, pad);
    }

    /** Refuses, in one line, a request whose prompt and new tokens exceed the in-place cache's capacity. */
    @Override
    public void check(List<long[]> rows, GenerationConfig config) {
        int longest = rows.stream().mapToInt(p -> p.length).max().orElse(0);
        if (kvCapacity > 0 && longest + config.maxNewTokens() > kvCapacity) {
            throw new UnsupportedOptionException("in-place KV cache", "max_new_tokens " + config.maxNewTokens(),
                    "a prompt of " + longest + " tokens plus " + config.maxNewTokens() + " new ones needs "
                    + (longest + config.maxNewTokens()) + " positions, more than the " + kvCapacity + " this folder"
                    + " was exported with (export --max-length " + kvCapacity + ")");
        }
    }

    /** Eos and pad from {@code generation_config.json} or {@code config.json}; vocabulary and positions from the config. */
    @Override
    public SourceLimits limits() {
        return SourceLimits.of(eosIds, padId, config);
    }

    /** The element type of the KV cache (past inputs and present outputs): {@code FLOAT} or {@code FLOAT16}. */
    @Override
    public OnnxJavaType cacheType() {
        return cacheType;
    }

    /** The logits output's name. */
    @Override
    public String logitsName() {
        return logits.name();
    }

    /** The logits' element type: {@code FLOAT}, or {@code FLOAT16} for an fp16 export. */
    @Override
    public OnnxJavaType logitsType() {
        return logits.type();
    }

    /** The logits' last axis. */
    @Override
    public int vocab() {
        return logits.vocab();
    }

    /** True for an {@code export --last-logits-only} folder: logits {@code [batch, 1, vocab]} at every run. */
    public boolean lastLogitsOnly() {
        return logits.lastOnly();
    }

    /** Every present output's name (the outputs a run asks for besides the pinned logits). */
    @Override
    public Set<String> presentNames() {
        return presentNames;
    }

    @Override
    public void close() {
        OrtSessions.close(session);
    }

}
