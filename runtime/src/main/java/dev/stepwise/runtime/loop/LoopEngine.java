package dev.stepwise.runtime.loop;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.generate.UnsupportedOptionException;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.generate.PromptRows;
import dev.stepwise.runtime.generate.StepIds;
import dev.stepwise.runtime.ort.OrtSessions;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a loop graph ({@code model_loop.onnx}, see {@link LoopGraphBuilder}) in ONNX Runtime: the whole generation
 * is one {@code session.run}. Prompts of different lengths are left padded; each row comes back as its prompt
 * followed by its new tokens, ending after the first eos id when one was produced.
 */
public final class LoopEngine implements AutoCloseable {
    /** The engine name in messages, as {@code generate --engine} spells it. */
    public static final String ENGINE = "loop";
    private final Path modelFile;
    private final OrtSession session;
    private final int vocab;
    private final long maxPositions;

    private LoopEngine(Path modelFile, OrtSession session, int vocab, long maxPositions) {
        this.modelFile = modelFile;
        this.session = session;
        this.vocab = vocab;
        this.maxPositions = maxPositions;
    }

    /** Opens the file with {@code threads} intra-op threads (0 = one per core). */
    public static LoopEngine open(Path modelFile, int threads) {
        OrtSession session = OrtSessions.open(modelFile, threads);
        try {
            Map<String, String> meta = session.getMetadata().getCustomMetadata();
            if (!LoopGraphBuilder.FORMAT.equals(meta.get(LoopGraphBuilder.META_FORMAT))) {
                throw new StepwiseException(modelFile + ": not a Stepwise loop graph (no '"
                        + LoopGraphBuilder.META_FORMAT + " = " + LoopGraphBuilder.FORMAT + "' metadata); write it with"
                        + " 'stepwise export --generation loop'");
            }
            int vocab = Integer.parseInt(meta.getOrDefault("vocab_size", "0"));
            long maxPositions = Long.parseLong(meta.getOrDefault("max_positions", Long.toString(Long.MAX_VALUE)));
            return new LoopEngine(modelFile, session, vocab, maxPositions);
        } catch (OrtException | RuntimeException e) {
            OrtSessions.close(session);
            if (e instanceof StepwiseException s) {
                throw s;
            }
            throw new StepwiseException(modelFile + ": cannot read its metadata: " + e.getMessage(), e);
        }
    }

    /** Opens the file, generates, closes it. */
    public static List<long[]> generate(Path modelFile, List<long[]> prompts, GenerationConfig config, long padId,
                                        List<Long> eosIds) {
        try (LoopEngine engine = open(modelFile, 0)) {
            return engine.generate(prompts, config, padId, eosIds);
        }
    }

    /**
     * Per row: the prompt, then the generated ids up to and including the first eos id. {@code config}'s eos and pad
     * ids, when set, override {@code eosIds} and {@code padId}. With sampling and {@code num_return_sequences = R},
     * each prompt becomes R consecutive rows (prompt {@code b}'s {@code j}-th sequence is row {@code b * R + j}, as
     * in the Java generator, whose draws are numbered the same way).
     */
    public List<long[]> generate(List<long[]> prompts, GenerationConfig config, long padId, List<Long> eosIds) {
        List<Long> eos = config.eosTokenIds().isEmpty() ? eosIds : config.eosTokenIds();
        long pad = config.padTokenId() >= 0 ? config.padTokenId() : padId;
        List<long[]> rows = new ArrayList<>();
        int copies = config.doSample() ? config.numReturnSequences() : 1;
        for (long[] p : prompts) {
            for (int j = 0; j < copies; j++) {
                rows.add(p);
            }
        }
        long[][] generated = run(rows, config, pad, eos);
        Set<Long> eosSet = new HashSet<>(eos);
        List<long[]> out = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            long[] p = rows.get(r);
            long[] g = generated[r];
            int n = g.length;
            for (int i = 0; i < g.length; i++) {
                if (eosSet.contains(g[i])) {
                    n = i + 1;
                    break;
                }
            }
            long[] row = new long[p.length + n];
            System.arraycopy(p, 0, row, 0, p.length);
            System.arraycopy(g, 0, row, p.length, n);
            out.add(row);
        }
        return out;
    }

    /**
     * The graph's raw output for these rows (no expansion): {@code [batch][new_tokens]} new ids, pad after a row's
     * eos, fewer than {@code maxNewTokens} columns when every row ended early.
     */
    public long[][] run(List<long[]> prompts, GenerationConfig config, long padId, List<Long> eosIds) {
        check(prompts, config);
        int batch = prompts.size();
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        StepIds padded = StepIds.prefill(prompts, longest, padId);
        long[] ids = padded.inputIds();
        long[] mask = padded.attentionMask();
        OrtEnvironment env = OrtSessions.environment();
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            long[] shape = {batch, longest};
            feed.put(LoopGraphBuilder.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
            feed.put(LoopGraphBuilder.ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            feed.put(LoopGraphBuilder.MAX_NEW_TOKENS, scalar(env, config.maxNewTokens()));
            feed.put(LoopGraphBuilder.MIN_NEW_TOKENS, scalar(env, config.minNewTokens()));
            feed.put(LoopGraphBuilder.DO_SAMPLE, OnnxTensor.createTensor(env, config.doSample()));
            feed.put(LoopGraphBuilder.TEMPERATURE, OnnxTensor.createTensor(env, (float) config.temperature()));
            feed.put(LoopGraphBuilder.TOP_K, scalar(env, config.topK()));
            feed.put(LoopGraphBuilder.TOP_P, OnnxTensor.createTensor(env, config.topP()));
            feed.put(LoopGraphBuilder.SEED, scalar(env, config.seed()));
            long[] eos = eosIds.stream().mapToLong(Long::longValue).toArray();
            feed.put(LoopGraphBuilder.EOS_TOKEN_ID, OnnxTensor.createTensor(env, LongBuffer.wrap(eos), new long[] {eos.length}));
            feed.put(LoopGraphBuilder.PAD_TOKEN_ID, scalar(env, padId));
            try (OrtSession.Result result = session.run(feed)) {
                OnnxTensor out = (OnnxTensor) result.get(LoopGraphBuilder.GENERATED_IDS).orElseThrow(
                        () -> new StepwiseException(modelFile + ": no output '" + LoopGraphBuilder.GENERATED_IDS + "'"));
                long[] outShape = out.getInfo().getShape();
                int steps = (int) outShape[1];
                LongBuffer values = out.getLongBuffer();
                long[][] generated = new long[batch][steps];
                for (int b = 0; b < batch; b++) {
                    values.get(generated[b]);
                }
                return generated;
            }
        } catch (OrtException e) {
            throw new StepwiseException(modelFile + ": ONNX Runtime failed while generating: " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private void check(List<long[]> prompts, GenerationConfig config) {
        config.validate();
        if (prompts.isEmpty()) {
            throw new StepwiseException("no prompt given");
        }
        if (config.numBeams() != 1) {
            throw new UnsupportedOptionException(ENGINE, "num_beams " + config.numBeams(),
                    "the loop graph does not do beam search; use --engine beam-search or java");
        }
        if (config.repetitionPenalty() != 1.0) {
            throw new UnsupportedOptionException(ENGINE, "repetition_penalty " + config.repetitionPenalty(),
                    "the loop graph has no repetition penalty; use --engine java");
        }
        if (config.noRepeatNgramSize() > 0) {
            throw new UnsupportedOptionException(ENGINE, "no_repeat_ngram_size " + config.noRepeatNgramSize(),
                    "the loop graph has no n-gram ban; use --engine java");
        }
        if (config.forcedBosTokenId() >= 0 || config.forcedEosTokenId() >= 0) {
            throw new UnsupportedOptionException(ENGINE, "forced_bos_token_id/forced_eos_token_id",
                    "the loop graph forces no tokens; use --engine java");
        }
        PromptRows.check(prompts, vocab, maxPositions, config.maxNewTokens());
    }

    private static OnnxTensor scalar(OrtEnvironment env, long value) throws OrtException {
        return OnnxTensor.createTensor(env, value);
    }

    public Path modelFile() {
        return modelFile;
    }

    public OrtSession session() {
        return session;
    }

    @Override
    public void close() {
        OrtSessions.close(session);
    }

}
