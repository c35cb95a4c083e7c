package dev.stepwise.runtime.search;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.PromptRows;
import dev.stepwise.runtime.generate.StepIds;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Runs a whole generation in one {@code session.run} of a {@code BeamSearch}, {@code GreedySearch} or
 * {@code Sampling} graph: prompts are left padded with an attention mask, the operator's inputs are set from a
 * {@link GenerationConfig}, and each returned sequence comes back as prompt + generated ids, without padding, ending
 * with eos when eos was produced.
 *
 * <p>Settings that the operators take as attributes (eos, n-gram blocking, early stopping, temperature, top-p) were
 * fixed when the graph was built; a request for other values is refused with a message that says so.
 */
public final class SearchEngine implements AutoCloseable {
    /** The engine name in messages, as {@code generate --engine} spells it. */
    public static final String ENGINE = "beam-search";
    /** ONNX Runtime's limit on {@code max_length}. */
    public static final int MAX_LENGTH_LIMIT = 4096;
    /** ONNX Runtime's limit on {@code num_beams}. */
    public static final int MAX_BEAMS = 128;

    private final Path modelFile;
    private final OrtSession session;
    private final Map<String, String> metadata;
    private final Set<String> inputNames;

    private SearchEngine(Path modelFile, OrtSession session, Map<String, String> metadata) {
        this.modelFile = modelFile;
        this.session = session;
        this.metadata = metadata;
        this.inputNames = session.getInputNames();
    }

    /** Opens a search graph ({@code threads} ≤ 0: one per core). */
    public static SearchEngine open(Path modelFile, int threads) {
        OrtSession session = OrtSessions.open(modelFile, threads);
        try {
            return new SearchEngine(modelFile, session, session.getMetadata().getCustomMetadata());
        } catch (OrtException e) {
            OrtSessions.close(session);
            throw new StepwiseException(modelFile + ": cannot read the model's metadata: " + e.getMessage(), e);
        }
    }

    /** Opens the graph, generates, closes it. */
    public static List<long[]> generate(Path modelFile, SearchKind kind, List<long[]> prompts, GenerationConfig config,
                                        long padId) {
        try (SearchEngine engine = open(modelFile, 0)) {
            return engine.generate(kind, prompts, config, padId);
        }
    }

    /** The operator this graph was built around, when it was built by Stepwise (else empty: foreign graphs). */
    public Optional<SearchKind> builtKind() {
        String k = metadata.get(SearchGraphBuilder.META_KIND);
        return k == null ? Optional.empty() : Optional.of(SearchKind.fromCliName(k));
    }

    /**
     * Generates for every prompt. Returns, in prompt order, {@code numReturnSequences} sequences per prompt (one for
     * greedy search): the prompt followed by the generated ids, cut after eos. Rows are left padded with
     * {@code padId}, which the attention mask marks as padding.
     */
    public List<long[]> generate(SearchKind kind, List<long[]> prompts, GenerationConfig config, long padId) {
        builtKind().ifPresent(built -> {
            if (built != kind) {
                throw new StepwiseException(modelFile + " holds a " + built.opType() + " graph, not " + kind.opType());
            }
        });
        checkConfig(kind, config);
        long eos = eosId(config);
        long graphPad = longMeta(SearchGraphBuilder.META_PAD, padId);
        int returned = kind == SearchKind.GREEDY_SEARCH ? 1 : Math.max(1, config.numReturnSequences());

        // Sampling returns one sequence per row: draw several by repeating each prompt.
        List<long[]> rows = new ArrayList<>();
        for (long[] p : prompts) {
            for (int r = 0; r < (kind == SearchKind.SAMPLING ? returned : 1); r++) {
                rows.add(p);
            }
        }
        int perRow = kind == SearchKind.BEAM_SEARCH ? returned : 1;
        checkPrompts(prompts, padId);
        int batch = rows.size();
        int padded = rows.stream().mapToInt(p -> p.length).max().orElse(0);
        int maxLength = padded + config.maxNewTokens();
        if (maxLength > MAX_LENGTH_LIMIT) {
            throw new StepwiseException("the longest prompt (" + padded + " tokens) + " + config.maxNewTokens()
                    + " new tokens exceed ONNX Runtime's search limit of " + MAX_LENGTH_LIMIT + " tokens");
        }
        long maxPositions = longMeta(SearchGraphBuilder.META_MAX_POSITIONS, Long.MAX_VALUE);
        if (maxLength > maxPositions) {
            throw new StepwiseException("the longest prompt (" + padded + " tokens) + " + config.maxNewTokens()
                    + " new tokens exceed the model's " + maxPositions + " positions");
        }
        int minLength = config.minNewTokens() > 0 ? padded + config.minNewTokens() : 0;
        boolean hasMask = inputNames.contains("attention_mask");
        boolean positionsFromMask = Boolean.parseBoolean(metadata.getOrDefault(
                SearchGraphBuilder.META_POSITIONS_FROM_MASK, "false"));
        boolean anyPadding = rows.stream().anyMatch(p -> p.length < padded);
        if (anyPadding && padId != graphPad && !positionsFromMask) {
            throw new StepwiseException(modelFile + " derives positions by comparing the prompt with pad id " + graphPad
                    + ", so prompts must be padded with it, not " + padId);
        }
        if (anyPadding && !hasMask && padId != graphPad) {
            throw new StepwiseException(modelFile + " has no attention_mask input and finds padding by the pad id "
                    + graphPad + ", so prompts must be padded with it, not " + padId);
        }

        // The operators take int32 ids and mask.
        StepIds left = StepIds.prefill(rows, padded, padId);
        int[] ids = new int[batch * padded];
        int[] mask = new int[batch * padded];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = Math.toIntExact(left.inputIds()[i]);
            mask[i] = (int) left.attentionMask()[i];
        }

        OrtEnvironment env = OrtSessions.environment();
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (String name : inputNames) {
                OnnxTensor t = switch (name) {
                    case "input_ids" -> OnnxTensor.createTensor(env, IntBuffer.wrap(ids), new long[] {batch, padded});
                    case "attention_mask" -> OnnxTensor.createTensor(env, IntBuffer.wrap(mask), new long[] {batch, padded});
                    case "max_length" -> scalar(env, maxLength);
                    case "min_length" -> scalar(env, minLength);
                    case "num_beams" -> scalar(env, config.numBeams());
                    case "num_return_sequences" -> scalar(env, returned);
                    case "length_penalty" -> scalar(env, (float) config.lengthPenalty());
                    case "repetition_penalty" -> scalar(env, (float) config.repetitionPenalty());
                    case "seed" -> scalar(env, seed(config.seed()));
                    default -> throw new StepwiseException(modelFile + ": input '" + name
                            + "' is not one the search engine knows how to set");
                };
                feed.put(name, t);
            }
            int[] sequences;
            long[] shape;
            try (OrtSession.Result result = session.run(feed)) {
                OnnxTensor out = (OnnxTensor) result.get("sequences").orElseThrow(
                        () -> new StepwiseException(modelFile + ": no output 'sequences'"));
                shape = out.getInfo().getShape();
                IntBuffer buffer = out.getIntBuffer();
                sequences = new int[buffer.remaining()];
                buffer.get(sequences);
            }
            int length = Math.toIntExact(shape[shape.length - 1]);
            int outRows = Math.toIntExact(shape[0] * (shape.length == 3 ? shape[1] : 1));
            if (outRows != batch * perRow) {
                throw new StepwiseException(modelFile + ": expected " + batch * perRow + " sequences, got shape "
                        + Arrays.toString(shape));
            }
            List<long[]> results = new ArrayList<>(outRows);
            for (int r = 0; r < outRows; r++) {
                long[] prompt = rows.get(r / perRow);
                results.add(trim(sequences, r * length, Math.min(length, maxLength), padded, prompt, eos, graphPad));
            }
            return results;
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime failed while generating: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * One output sequence as prompt + generated ids. The operators write no eos for a finished beam hypothesis and
     * greedy search may write the pad id in its place; either way the first eos or pad after the prompt ends the
     * sequence, and the result ends with eos. Without a known eos nothing is cut.
     */
    static long[] trim(int[] sequences, int offset, int length, int padded, long[] prompt, long eos, long pad) {
        long[] out = Arrays.copyOf(prompt, prompt.length + Math.max(0, length - padded));
        int n = prompt.length;
        for (int t = padded; t < length; t++) {
            long token = sequences[offset + t];
            if (eos >= 0 && (token == eos || token == pad)) {
                out[n++] = eos;
                break;
            }
            out[n++] = token;
        }
        return Arrays.copyOf(out, n);
    }

    private void checkConfig(SearchKind kind, GenerationConfig config) {
        if (config.maxNewTokens() < 1) {
            throw new StepwiseException("max new tokens must be at least 1, got " + config.maxNewTokens());
        }
        if (config.minNewTokens() < 0 || (config.minNewTokens() > 0 && config.minNewTokens() >= config.maxNewTokens())) {
            throw new UnsupportedOptionException(ENGINE, "min_new_tokens " + config.minNewTokens(), "it must be 0.."
                    + (config.maxNewTokens() - 1) + ": ONNX Runtime needs min_length below max_length");
        }
        if (!(config.repetitionPenalty() > 0)) {
            throw new StepwiseException("repetition penalty must be > 0, got " + config.repetitionPenalty());
        }
        if (config.forcedBosTokenId() >= 0 || config.forcedEosTokenId() >= 0) {
            throw new UnsupportedOptionException(ENGINE, "forced_bos_token_id/forced_eos_token_id",
                    "the search graph forces no tokens; use --engine java");
        }
        switch (kind) {
            case BEAM_SEARCH -> {
                if (config.doSample()) {
                    throw new UnsupportedOptionException(ENGINE, "do_sample with num_beams " + config.numBeams(),
                            "the BeamSearch graph does not sample; use the sampling graph with one beam");
                }
                if (config.numBeams() < 1 || config.numBeams() > MAX_BEAMS) {
                    throw new UnsupportedOptionException(ENGINE, "num_beams " + config.numBeams(),
                            "ONNX Runtime's BeamSearch takes 1.." + MAX_BEAMS + " beams");
                }
                if (config.numReturnSequences() > config.numBeams()) {
                    throw new StepwiseException("num return sequences (" + config.numReturnSequences()
                            + ") must not exceed num beams (" + config.numBeams() + ")");
                }
                if (config.earlyStoppingMode() == BeamOptions.EarlyStopping.NEVER) {
                    throw new UnsupportedOptionException(ENGINE, "early_stopping never",
                            "ONNX Runtime's BeamSearch knows only true and false; use --engine java");
                }
                boolean built = Boolean.parseBoolean(metadata.getOrDefault(SearchGraphBuilder.META_EARLY_STOPPING,
                        Boolean.toString(config.earlyStopping())));
                if (built != config.earlyStopping()) {
                    throw new UnsupportedOptionException(ENGINE, "early_stopping " + config.earlyStopping(), modelFile
                            + " was built with early_stopping=" + built + "; export it again with the early stopping you want");
                }
            }
            case GREEDY_SEARCH -> {
                if (config.doSample() || config.numBeams() > 1) {
                    throw new StepwiseException("the GreedySearch graph neither samples nor keeps beams; use the "
                            + (config.doSample() ? "sampling" : "beam-search") + " graph");
                }
                if (config.numReturnSequences() > 1) {
                    throw new StepwiseException("greedy search returns one sequence per prompt, not "
                            + config.numReturnSequences());
                }
            }
            case SAMPLING -> {
                if (!config.doSample()) {
                    throw new StepwiseException("the Sampling graph always samples; use greedy-search for greedy decoding");
                }
                if (config.numBeams() > 1) {
                    throw new UnsupportedOptionException(ENGINE, "num_beams " + config.numBeams() + " with do_sample",
                            "ONNX Runtime has no beam-sampling operator");
                }
                if (config.topK() > 0) {
                    throw new UnsupportedOptionException(ENGINE, "top_k " + config.topK(),
                            "ONNX Runtime's Sampling operator has no top-k; use top-p, or the java or loop engine");
                }
                checkBuilt(SearchGraphBuilder.META_TEMPERATURE, "temperature", config.temperature());
                checkBuilt(SearchGraphBuilder.META_TOP_P, "top_p", config.topP());
            }
            default -> throw new IllegalStateException(kind.name());
        }
        String ngram = metadata.get(SearchGraphBuilder.META_NO_REPEAT_NGRAM);
        if (ngram != null && Integer.parseInt(ngram) != config.noRepeatNgramSize()) {
            throw new UnsupportedOptionException(ENGINE, "no_repeat_ngram_size " + config.noRepeatNgramSize(), modelFile
                    + " was built with no_repeat_ngram_size=" + ngram + "; export it again with the size you want");
        }
    }

    private void checkBuilt(String key, String what, double requested) {
        String v = metadata.get(key);
        if (v != null && Float.parseFloat(v) != (float) requested) {
            throw new UnsupportedOptionException(ENGINE, what + " " + requested, modelFile + " was built with " + what
                    + "=" + v + "; export it again with the " + what + " you want");
        }
    }

    private long eosId(GenerationConfig config) {
        String built = metadata.get(SearchGraphBuilder.META_EOS);
        List<Long> asked = config.eosTokenIds();
        if (built == null) {
            return asked.isEmpty() ? -1 : asked.get(0);
        }
        long eos = Long.parseLong(built);
        if (!asked.isEmpty() && !asked.equals(List.of(eos))) {
            throw new StepwiseException(modelFile + " stops at eos id " + eos + " (ONNX Runtime's search operators take"
                    + " exactly one), not " + asked);
        }
        return eos;
    }

    private void checkPrompts(List<long[]> prompts, long padId) {
        if (prompts.isEmpty()) {
            throw new StepwiseException("no prompt given");
        }
        long vocab = longMeta(SearchGraphBuilder.META_VOCAB, Integer.MAX_VALUE);
        if (padId < 0 || padId >= vocab) {
            throw new StepwiseException("pad id " + padId + " is outside the vocabulary [0, " + vocab + ")");
        }
        PromptRows.check(prompts, vocab, Long.MAX_VALUE, 0);
    }

    private long longMeta(String key, long fallback) {
        String v = metadata.get(key);
        return v == null ? fallback : Long.parseLong(v);
    }

    /** The operator's int32 seed: the long folded to 32 bits (the same seed draws the same tokens, 0 included). */
    static int seed(long seed) {
        return (int) (seed ^ (seed >>> 32));
    }

    private static OnnxTensor scalar(OrtEnvironment env, int value) throws OrtException {
        return OnnxTensor.createTensor(env, IntBuffer.wrap(new int[] {value}), new long[] {1});
    }

    private static OnnxTensor scalar(OrtEnvironment env, float value) throws OrtException {
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {value}), new long[] {1});
    }

    @Override
    public void close() {
        OrtSessions.close(session);
    }
}
