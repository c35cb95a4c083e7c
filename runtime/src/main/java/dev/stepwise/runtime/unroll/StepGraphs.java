package dev.stepwise.runtime.unroll;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.DecoderGraphs;
import dev.stepwise.runtime.generate.FolderTokenIds;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.SourceLimits;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An unrolled folder opened for generation: step graph {@code s} runs generation step {@code s} (the prefill is step
 * 0) in a session of its own, created when first needed and reused by every later generation. All sessions compute
 * with one memory map of the shared weights file ({@link StepSessions}), so the folder costs one copy of the weights
 * however many steps it has. The {@link dev.stepwise.runtime.generate.Generator} drives it like a dynamic decoder:
 * greedy, sampling and beam search with every option, the KV cache going from step to step as ONNX Runtime tensors.
 * The shapes are the ones unrolled: exactly {@code batch_size} rows (prompts × sequences per prompt), prompts at
 * most {@code sequence_length} long (shorter ones are left padded), at most one new token per step graph.
 *
 * <p>Thread-safe: concurrent generations share the sessions. Close it after the last generation.
 */
public final class StepGraphs implements DecoderGraphs, AutoCloseable {
    /** The engine name in messages. */
    public static final String ENGINE = "step-graph";

    private final Path dir;
    private final UnrollManifest manifest;
    private final Architecture architecture;
    private final ModelConfig config;
    private final FolderTokenIds tokenIds;
    private final StepSessions sessions;
    private final Map<String, DType> inputTypes;
    private final Set<String> presentNames;
    private final String logitsName;
    private final OnnxJavaType logitsType;
    private final OnnxJavaType cacheType;
    private final int vocab;

    private StepGraphs(Path dir, UnrollManifest manifest, int threads) {
        this.dir = dir;
        this.manifest = manifest;
        ModelFolder folder = ModelFolder.read(dir);
        this.architecture = folder.architecture();
        this.config = folder.config();
        this.tokenIds = FolderTokenIds.read(dir, config);
        this.sessions = new StepSessions(dir, manifest, threads);
        this.inputTypes = DecoderGraphs.inputTypes(architecture.spec());
        this.presentNames = DecoderGraphs.presentNames(architecture.spec().cache(), config.numLayers());
        CacheDecl cache = architecture.spec().cache();
        this.logitsName = architecture.spec().outputs().get(0).name();
        try {
            OrtSession prefill = session(0);
            TensorInfo logits = (TensorInfo) prefill.getOutputInfo().get(logitsName).getInfo();
            TensorInfo present = (TensorInfo) prefill.getOutputInfo().get(cache.presentName(0, "key")).getInfo();
            this.logitsType = logits.type;
            this.vocab = Math.toIntExact(logits.getShape()[2]);
            this.cacheType = present.type;
        } catch (OrtException | RuntimeException e) {
            close(); // the prefill session and the weights mapped for it
            throw e instanceof StepwiseException se ? se : new StepwiseException(dir.resolve(
                    manifest.steps().get(0).fileName()) + ": has no readable '" + logitsName + "' and present outputs: "
                    + e.getMessage(), e);
        }
    }

    /** Opens an unrolled folder ({@code unroll.json} and its step graphs); {@code threads} 0 = one per core. */
    public static StepGraphs open(Path dir, int threads) {
        UnrollManifest manifest = UnrollManifest.readIfPresent(dir);
        if (manifest == null) {
            throw new StepwiseException(dir + ": no " + Unroller.MANIFEST_FILE + " (not a folder written by 'stepwise unroll')");
        }
        if (manifest.isSeq2Seq()) {
            throw new StepwiseException(dir + ": a seq2seq unroll (" + manifest.encoder() + " and decoder steps);"
                    + " generate with it from Java through Seq2SeqStepGraphs.open");
        }
        return new StepGraphs(dir, manifest, threads);
    }

    public UnrollManifest manifest() {
        return manifest;
    }

    @Override
    public OrtSession session(int run) {
        return sessions.step(run);
    }

    /** Step graphs opened so far (sessions are made when a step is first run). */
    public int openSessions() {
        return sessions.opened();
    }

    /** Bytes of weights memory-mapped for the sessions (each shared tensor once). */
    public long mappedWeightBytes() {
        return sessions.mappedWeightBytes();
    }

    /** Refuses, naming the option, a request the unrolled shapes cannot hold. */
    @Override
    public void check(List<long[]> rows, GenerationConfig request) {
        if (rows.size() != manifest.batch()) {
            String option = request.isBeamSearch() ? "num_beams " + request.numBeams()
                    : request.numReturnSequences() > 1 ? "num_return_sequences " + request.numReturnSequences()
                    : rows.size() + " prompts";
            throw new UnsupportedOptionException(ENGINE, option, dir + " was unrolled for batch size " + manifest.batch()
                    + " and the request needs " + rows.size() + " rows (prompts × sequences per prompt); unroll again with"
                    + " --batch-size " + rows.size());
        }
        int longest = rows.stream().mapToInt(r -> r.length).max().orElse(0);
        if (longest > manifest.sequence()) {
            throw new UnsupportedOptionException(ENGINE, "a prompt of " + longest + " tokens", dir
                    + " was unrolled for prompts of at most " + manifest.sequence() + " tokens (--sequence-length)");
        }
        if (request.maxNewTokens() > sessions.count()) {
            throw new UnsupportedOptionException(ENGINE, "max_new_tokens " + request.maxNewTokens(), dir + " has "
                    + sessions.count() + " step graphs, one per new token; unroll again with --max-new-tokens "
                    + request.maxNewTokens());
        }
    }

    @Override
    public int prefillLength(int longestPrompt) {
        return manifest.sequence();
    }

    @Override
    public Path dir() {
        return dir;
    }

    @Override
    public CacheDecl cache() {
        return architecture.spec().cache();
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public OnnxJavaType cacheType() {
        return cacheType;
    }

    @Override
    public DType inputType(String name) {
        return inputTypes.getOrDefault(name, DType.INT64);
    }

    /** Step 0 has no past inputs: the prefill is its own graph. */
    @Override
    public boolean prefillTakesPast() {
        return false;
    }

    @Override
    public boolean lastLogitsOnly(int run) {
        return run > 0 || manifest.lastTokenLogits();
    }

    @Override
    public String logitsName() {
        return logitsName;
    }

    @Override
    public OnnxJavaType logitsType() {
        return logitsType;
    }

    @Override
    public int vocab() {
        return vocab;
    }

    @Override
    public Set<String> presentNames() {
        return presentNames;
    }

    /** Eos and pad from the folder ({@link FolderTokenIds}); vocabulary and positions from the config. */
    @Override
    public SourceLimits limits() {
        return SourceLimits.of(new LinkedHashSet<>(tokenIds.eos()), tokenIds.pad(), config);
    }

    /** Closes every session, then the shared weights they computed with. */
    @Override
    public void close() {
        sessions.close();
    }
}
