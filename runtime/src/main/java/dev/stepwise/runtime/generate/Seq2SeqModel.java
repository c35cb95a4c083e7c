package dev.stepwise.runtime.generate;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.export.DummyInputs;
import dev.stepwise.runtime.export.Validator;
import dev.stepwise.runtime.model.Architectures;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.model.ModelFolder;
import dev.stepwise.runtime.model.Seq2SeqArchitecture;
import dev.stepwise.runtime.model.TensorDecl;
import dev.stepwise.runtime.onnx.DecoderMerge;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * An exported seq2seq set (optimum's {@code encoder_model.onnx}, {@code decoder_model.onnx},
 * {@code decoder_with_past_model.onnx}, or the single or merged decoder instead of the pair: {@link Decoder}) ready to
 * generate. Each request runs the encoder once on its right-padded inputs; the decoder then starts every row with
 * {@code decoder_start_token_id}, its first step computing the cross-attention cache, every later step taking both
 * caches. Greedy, sampling and beam search are the
 * {@link Generator}'s, over the {@link StepModelSource} a request binds ({@link #forInputs}). The same generation
 * runs over static graphs (an unrolled folder, {@link #ofStaticGraphs}): a fixed encoder and one decoder graph per
 * step, within their {@link StaticShapes}. Thread-safe: the sessions are, and each request keeps its own caches.
 */
public final class Seq2SeqModel implements AutoCloseable {
    /** Which decoder graphs generate: optimum's pair or merged decoder, or Stepwise's single one (same tokens). */
    public enum Decoder {
        /** {@code decoder_model.onnx} for the first step, {@code decoder_with_past_model.onnx} after. */
        OPTIMUM,
        /** {@code decoder_single_model.onnx} for every step. */
        SINGLE,
        /**
         * {@code decoder_model_merged.onnx} for every step: {@code use_cache_branch} false with empty pasts first, then
         * true with the caches.
         */
        MERGED
    }

    private static final List<TensorDecl> ID_INPUTS = List.of(
            new TensorDecl("input_ids", DType.INT64, List.of("batch_size", "sequence_length")),
            new TensorDecl("attention_mask", DType.INT64, List.of("batch_size", "sequence_length")),
            new TensorDecl("encoder_attention_mask", DType.INT64, List.of("batch_size", "sequence_length")),
            new TensorDecl(DecoderMerge.USE_CACHE_BRANCH, DType.BOOL, List.of("1")));

    /**
     * The shapes static graphs were made for: exactly {@code batch} decoder rows (inputs × sequences per input), inputs
     * of at most {@code encoderLength} tokens (right padded to it and masked), at most {@code steps} new tokens.
     */
    public record StaticShapes(int batch, int encoderLength, int steps) {
    }

    /** The engine name in messages about what static graphs cannot run. */
    public static final String STATIC_ENGINE = "seq2seq step-graph";

    private final ModelConfig config;
    /** The decoder graphs' contract: optimum's pair (also static step graphs), the single or the merged decoder. */
    private final Decoder which;
    private final OrtSession encoder;
    /** The decoder graph of generation step n; step 0 computes the cross cache. */
    private final IntFunction<OrtSession> decoderAt;
    /** Null for a dynamic set. */
    private final StaticShapes shapes;
    /** Closes every session. */
    private final AutoCloseable sessions;
    private final long decoderStart;
    private final Set<Long> eos;
    private final long pad;

    private Seq2SeqModel(ModelConfig config, Decoder which, OrtSession encoder, IntFunction<OrtSession> decoderAt,
                         StaticShapes shapes, AutoCloseable sessions) {
        this.config = config;
        this.which = which;
        this.encoder = encoder;
        this.decoderAt = decoderAt;
        this.shapes = shapes;
        this.sessions = sessions;
        this.decoderStart = decoderStartTokenId(config);
        this.eos = new LinkedHashSet<>(config.eosTokenIds());
        this.pad = config.padTokenId();
    }

    /** Opens the folder {@code stepwise export} wrote for an encoder-decoder checkpoint, with optimum's decoders. */
    public static Seq2SeqModel open(Path dir) {
        return open(dir, Decoder.OPTIMUM);
    }

    /** As {@link #open(Path)}, generating with the decoder graphs {@code which} names. */
    public static Seq2SeqModel open(Path dir, Decoder which) {
        return open(dir, which, 0);
    }

    /** As {@link #open(Path, Decoder)}, each ONNX Runtime session on {@code threads} threads (0: one per core). */
    public static Seq2SeqModel open(Path dir, Decoder which, int threads) {
        Path manifestFile = dir.resolve("stepwise.json");
        if (!Files.isRegularFile(manifestFile) && Files.isRegularFile(dir.resolve("unroll.json"))) {
            throw new StepwiseException(dir + ": an unrolled folder (unroll.json); open it with Seq2SeqStepGraphs.open");
        }
        if (!Files.isRegularFile(manifestFile)) {
            throw new StepwiseException(dir + ": no stepwise.json; expected a folder written by stepwise export");
        }
        JsonObject manifest = ModelConfig.readJson(manifestFile);
        JsonElement format = manifest.get("format");
        if (format == null || !format.getAsString().equals("seq2seq")) {
            throw new StepwiseException(manifestFile + ": format is " + format + ", expected \"seq2seq\"");
        }
        ModelConfig config = config(dir);
        String firstKey = switch (which) {
            case OPTIMUM -> "decoder";
            case SINGLE -> "decoder_single";
            case MERGED -> "decoder_merged";
        };
        for (String key : which == Decoder.OPTIMUM ? List.of(firstKey, "decoder_with_past") : List.of(firstKey)) {
            if (!manifest.has(key)) {
                throw new StepwiseException(manifestFile + ": no " + key + "; export the folder again for the "
                        + which.name().toLowerCase(java.util.Locale.ROOT) + " decoder graphs");
            }
        }
        OrtSession e = OrtSessions.open(dir.resolve(manifest.get("encoder").getAsString()), threads);
        OrtSession f = null;
        try {
            f = OrtSessions.open(dir.resolve(manifest.get(firstKey).getAsString()), threads);
            OrtSession first = f;
            OrtSession later = which != Decoder.OPTIMUM ? f
                    : OrtSessions.open(dir.resolve(manifest.get("decoder_with_past").getAsString()), threads);
            return new Seq2SeqModel(config, which, e, step -> step == 0 ? first : later, null,
                    () -> closeAll(e, first, later));
        } catch (RuntimeException failure) {
            OrtSessions.close(f);
            OrtSessions.close(e);
            throw failure;
        }
    }

    /**
     * Generation over static graphs: {@code encoder} for exactly {@code shapes.batch()} rows of
     * {@code shapes.encoderLength()} tokens, {@code steps.apply(n)} the decoder of step n (step 0 takes
     * {@code encoder_hidden_states} and makes the cross cache, later steps take both caches, optimum's contracts);
     * closing the model closes {@code sessions}.
     */
    public static Seq2SeqModel ofStaticGraphs(ModelConfig config, OrtSession encoder, IntFunction<OrtSession> steps,
                                              StaticShapes shapes, AutoCloseable sessions) {
        return new Seq2SeqModel(config, Decoder.OPTIMUM, encoder, steps, shapes, sessions);
    }

    /** A seq2seq folder's config, read with its architecture's config keys. */
    public static ModelConfig config(Path dir) {
        Path configFile = dir.resolve("config.json");
        JsonObject json = ModelConfig.readJson(configFile);
        String modelType = ModelFolder.modelType(json, configFile);
        Seq2SeqArchitecture architecture = Architectures.SEQ2SEQ.find(modelType).orElseThrow(() ->
                new StepwiseException(configFile + ": model_type '" + modelType + "' is no encoder-decoder architecture"
                        + " on the class path (have " + Architectures.SEQ2SEQ.all().keySet() + ")"));
        return ModelConfig.of(configFile, json, architecture.spec().configKeys());
    }

    public long decoderStartTokenId() {
        return decoderStart;
    }

    /**
     * Generates for each input row (its real tokens, no padding): per row, the sequences the config asks for, each
     * {@code decoder_start_token_id} followed by the generated tokens, as transformers' {@code generate} returns them.
     */
    public List<List<long[]>> generate(List<long[]> inputs, GenerationConfig generation) {
        return generate(inputs, generation, BeamOptions.of(generation), Generator.TokenListener.NONE);
    }

    /** As {@link #generate(List, GenerationConfig)} with beam options and a listener told every new token. */
    public List<List<long[]>> generate(List<long[]> inputs, GenerationConfig generation, BeamOptions beamOptions,
                                       Generator.TokenListener listener) {
        List<long[]> starts = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            starts.add(new long[] {decoderStart});
        }
        return new Generator(forInputs(inputs)).generate(starts, generation, beamOptions, listener);
    }

    /** Whether {@code dir} is a seq2seq export ({@code stepwise.json} says {@code "format": "seq2seq"}). */
    public static boolean isExport(Path dir) {
        Path manifestFile = dir.resolve("stepwise.json");
        if (!Files.isRegularFile(manifestFile)) {
            return false;
        }
        JsonElement format = ModelConfig.readJson(manifestFile).get("format");
        return format != null && format.isJsonPrimitive() && format.getAsString().equals("seq2seq");
    }

    /** The decoder as a step-model source for one request: the encoder runs when a generation starts. */
    public StepModelSource forInputs(List<long[]> inputs) {
        if (inputs.isEmpty()) {
            throw new StepwiseException("no input rows to generate for");
        }
        return new StepModelSource() {
            @Override
            public StepModel start(List<long[]> rows, long padId, boolean reorderable) {
                if (rows.size() % inputs.size() != 0) {
                    throw new IllegalStateException(rows.size() + " decoder rows for " + inputs.size() + " inputs");
                }
                int times = rows.size() / inputs.size();
                if (shapes == null) {
                    return new Run(encode(inputs), rows, times);
                }
                // a static encoder has the decoder's batch: it runs on each input once per sequence
                List<long[]> expanded = new ArrayList<>();
                for (int r = 0; r < rows.size(); r++) {
                    expanded.add(inputs.get(r / times));
                }
                return new Run(encode(expanded), rows, 1);
            }

            @Override
            public void check(List<long[]> rows, GenerationConfig request) {
                if (shapes != null) {
                    checkStatic(inputs, rows, request);
                }
            }

            @Override
            public SourceLimits limits() {
                return SourceLimits.of(eos, pad, config);
            }
        };
    }

    /** Refuses, naming the option, a request the static graphs' shapes cannot hold. */
    private void checkStatic(List<long[]> inputs, List<long[]> rows, GenerationConfig request) {
        if (rows.size() != shapes.batch()) {
            String option = request.isBeamSearch() ? "num_beams " + request.numBeams()
                    : request.numReturnSequences() > 1 ? "num_return_sequences " + request.numReturnSequences()
                    : inputs.size() + " inputs";
            throw new UnsupportedOptionException(STATIC_ENGINE, option, "the graphs were unrolled for batch size "
                    + shapes.batch() + " and the request needs " + rows.size() + " rows (inputs × sequences per input)");
        }
        int longest = inputs.stream().mapToInt(r -> r.length).max().orElse(0);
        if (longest > shapes.encoderLength()) {
            throw new UnsupportedOptionException(STATIC_ENGINE, "an input of " + longest + " tokens", "the encoder was"
                    + " unrolled for inputs of at most " + shapes.encoderLength() + " tokens (--sequence-length)");
        }
        if (request.maxNewTokens() > shapes.steps()) {
            throw new UnsupportedOptionException(STATIC_ENGINE, "max_new_tokens " + request.maxNewTokens(), "there are "
                    + shapes.steps() + " decoder step graphs, one per new token (--max-new-tokens)");
        }
    }

    /** The encoder's output and the right-padded mask of a request. */
    private record Encoded(HostTensor hidden, HostTensor mask) {
    }

    private Encoded encode(List<long[]> inputs) {
        int batch = inputs.size();
        int longest = inputs.stream().mapToInt(r -> r.length).max().orElse(0);
        // static graphs take their fixed length: the extra positions are padding, masked out like any other
        int width = shapes == null ? longest : shapes.encoderLength();
        if (longest == 0) {
            throw new StepwiseException("every input row is empty; expected at least one token");
        }
        PromptRows.Padded padded = PromptRows.rightPadded(inputs, width, pad);
        HostTensor m = HostTensor.ofLongs(padded.mask(), batch, width);
        Map<String, HostTensor> out = run(encoder, new DummyInputs().put("input_ids", HostTensor.ofLongs(padded.ids(),
                batch, width)).put("attention_mask", m));
        return new Encoded(out.get("last_hidden_state"), m);
    }

    private static Map<String, HostTensor> run(OrtSession session, DummyInputs in) {
        try {
            return Validator.runOrt(session, ID_INPUTS, DType.FLOAT, in);
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    /** One generation: the expanded encoder output, both caches and the last logits, all on the host. */
    private final class Run implements StepModel {
        private HostTensor mask;
        private HostTensor hidden;
        private final Map<String, HostTensor> selfPast = new LinkedHashMap<>();
        private final Map<String, HostTensor> crossPast = new LinkedHashMap<>();
        private HostTensor logits;
        /** Decoder steps run so far (step 0 in the constructor). */
        private int step;

        Run(Encoded encoded, List<long[]> rows, int times) {
            int[] from = new int[rows.size()];
            for (int r = 0; r < from.length; r++) {
                from[r] = r / times;
            }
            mask = pick(encoded.mask(), from);
            hidden = pick(encoded.hidden(), from);
            int length = rows.get(0).length;
            long[] ids = new long[rows.size() * length];
            for (int r = 0; r < rows.size(); r++) {
                if (rows.get(r).length != length) {
                    throw new StepwiseException("decoder prompts must all have one length; got " + length + " and "
                            + rows.get(r).length);
                }
                System.arraycopy(rows.get(r), 0, ids, r * length, length);
            }
            DummyInputs in = new DummyInputs().put("input_ids", HostTensor.ofLongs(ids, rows.size(), length))
                    .put("encoder_attention_mask", mask).put("encoder_hidden_states", hidden);
            if (which != Decoder.OPTIMUM) {
                // the first step of the single or merged decoder: empty pasts, so it computes the cross cache
                for (Map.Entry<String, long[]> p : pastShapes(decoderAt.apply(0), rows.size()).entrySet()) {
                    in.put(p.getKey(), HostTensor.ofFloats(new float[0], p.getValue()));
                }
            }
            if (which == Decoder.MERGED) {
                in.put(DecoderMerge.USE_CACHE_BRANCH, HostTensor.ofLongs(new long[] {0}, 1));
            }
            absorb(run(decoderAt.apply(0), in), true);
        }

        /** Keeps the logits and turns each present into the next step's past of the same cache. */
        private void absorb(Map<String, HostTensor> out, boolean withCross) {
            logits = out.get("logits");
            for (Map.Entry<String, HostTensor> e : out.entrySet()) {
                String name = e.getKey();
                if (!name.startsWith("present.")) {
                    continue;
                }
                String past = "past_key_values." + name.substring("present.".length());
                if (name.contains(".encoder.")) {
                    if (withCross) {
                        crossPast.put(past, e.getValue());
                    }
                } else {
                    selfPast.put(past, e.getValue());
                }
            }
        }

        @Override
        public int rows() {
            return (int) mask.dim(0);
        }

        @Override
        public float[] logits(int row) {
            int vocab = (int) logits.dim(2);
            int length = (int) logits.dim(1);
            float[] out = new float[vocab];
            System.arraycopy(logits.floats(), (row * length + length - 1) * vocab, out, 0, vocab);
            return out;
        }

        @Override
        public void step(long[] tokens) {
            DummyInputs in = new DummyInputs().put("input_ids", HostTensor.ofLongs(tokens.clone(), tokens.length, 1))
                    .put("encoder_attention_mask", mask);
            selfPast.forEach(in::put);
            crossPast.forEach(in::put);
            OrtSession decoder = decoderAt.apply(++step);
            if (which == Decoder.SINGLE) {
                long[] none = hidden.shape().clone();
                none[1] = 0;
                in.put("encoder_hidden_states", HostTensor.ofFloats(new float[0], none));
                absorb(run(decoder, in), true);
                return;
            }
            if (which == Decoder.MERGED) {
                in.put(DecoderMerge.USE_CACHE_BRANCH, HostTensor.ofLongs(new long[] {1}, 1));
            }
            if (hasInput(decoder, "encoder_hidden_states")) {
                in.put("encoder_hidden_states", hidden); // unread with a past, but an input of the merged graph
            }
            // the cross presents of a with-past step are none (optimum's pair) or empty (the merged graph): keep the
            // first step's
            absorb(run(decoder, in), false);
        }

        @Override
        public void reorder(int[] from) {
            mask = pick(mask, from);
            hidden = pick(hidden, from);
            logits = pick(logits, from);
            selfPast.replaceAll((k, v) -> pick(v, from));
            crossPast.replaceAll((k, v) -> pick(v, from));
        }
    }

    /** Each past input's shape for {@code rows} rows and an empty sequence: its declared numbers, batch and 0 else. */
    private static Map<String, long[]> pastShapes(OrtSession session, int rows) {
        Map<String, long[]> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, ai.onnxruntime.NodeInfo> e : session.getInputInfo().entrySet()) {
                if (e.getKey().startsWith("past_key_values.")
                        && e.getValue().getInfo() instanceof ai.onnxruntime.TensorInfo info) {
                    long[] shape = info.getShape().clone();
                    shape[0] = rows;
                    for (int i = 1; i < shape.length; i++) {
                        shape[i] = Math.max(shape[i], 0);
                    }
                    out.put(e.getKey(), shape);
                }
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed: " + e.getMessage(), e);
        }
        return out;
    }

    private static boolean hasInput(OrtSession session, String name) {
        try {
            return session.getInputInfo().containsKey(name);
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    /** Row {@code i} of the result is row {@code from[i]} of {@code t} (axis 0). */
    static HostTensor pick(HostTensor t, int[] from) {
        long[] shape = t.shape().clone();
        int per = (int) (t.size() / shape[0]);
        shape[0] = from.length;
        if (t.type() == DType.INT64) {
            long[] out = new long[from.length * per];
            for (int i = 0; i < from.length; i++) {
                System.arraycopy(t.longs(), from[i] * per, out, i * per, per);
            }
            return HostTensor.ofLongs(out, shape);
        }
        float[] out = new float[from.length * per];
        for (int i = 0; i < from.length; i++) {
            System.arraycopy(t.floats(), from[i] * per, out, i * per, per);
        }
        return HostTensor.ofFloats(out, shape);
    }

    /** The config's {@code decoder_start_token_id}, which every decoded sequence starts with; an error if missing. */
    public static long decoderStartTokenId(ModelConfig config) {
        if (!config.has("decoder_start_token_id")) {
            throw new StepwiseException(config.source() + ": no decoder_start_token_id; expected the id every decoded"
                    + " sequence starts with");
        }
        return config.getInt("decoder_start_token_id");
    }

    /** Closes each session once (the single and merged decoders serve both steps). */
    private static void closeAll(OrtSession... all) {
        java.util.Arrays.stream(all).distinct().forEach(OrtSessions::close);
    }

    @Override
    public void close() {
        try {
            sessions.close();
        } catch (Exception e) {
            throw new StepwiseException("cannot close ONNX Runtime sessions: " + e.getMessage(), e);
        }
    }
}
