package dev.stepwise.runtime.generate;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to generate, with transformers' names and meanings. Defaults are greedy decoding of up to 20 new tokens; a
 * model folder's {@code generation_config.json} supplies defaults that command-line flags override. Made by
 * {@link Builder} (or the {@link #greedy}, {@link #sampling} and {@link #beamSearch} shortcuts), never by position:
 * fifteen settings in a row are too easy to shift by one. Immutable and thread-safe.
 */
public final class GenerationConfig {
    private final int maxNewTokens;
    private final int minNewTokens;
    private final boolean doSample;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final long seed;
    private final int numBeams;
    private final double lengthPenalty;
    private final boolean earlyStopping;
    private final int numReturnSequences;
    private final int noRepeatNgramSize;
    private final double repetitionPenalty;
    private final List<Long> eosTokenIds;
    private final long padTokenId;

    private GenerationConfig(int maxNewTokens, int minNewTokens, boolean doSample, double temperature, int topK,
                             double topP, long seed, int numBeams, double lengthPenalty, boolean earlyStopping,
                             int numReturnSequences, int noRepeatNgramSize, double repetitionPenalty,
                             List<Long> eosTokenIds, long padTokenId) {
        this.maxNewTokens = maxNewTokens;
        this.minNewTokens = minNewTokens;
        this.doSample = doSample;
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.seed = seed;
        this.numBeams = numBeams;
        this.lengthPenalty = lengthPenalty;
        this.earlyStopping = earlyStopping;
        this.numReturnSequences = numReturnSequences;
        this.noRepeatNgramSize = noRepeatNgramSize;
        this.repetitionPenalty = repetitionPenalty;
        this.eosTokenIds = List.copyOf(eosTokenIds);
        this.padTokenId = padTokenId;
    }

    /** Upper bound of generated tokens per sequence. */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** Eos is suppressed until this many tokens were generated. */
    public int minNewTokens() {
        return minNewTokens;
    }

    /** Sample instead of argmax / beam scores. */
    public boolean doSample() {
        return doSample;
    }

    /** Logits are divided by it before sampling (1 = unchanged). */
    public double temperature() {
        return temperature;
    }

    /** Keep the k most likely tokens when sampling (0 = off). */
    public int topK() {
        return topK;
    }

    /** Nucleus: keep the smallest set whose probability reaches p (1 = off). */
    public double topP() {
        return topP;
    }

    /** Sampling seed; the same seed gives the same tokens. */
    public long seed() {
        return seed;
    }

    /** Beam search width (1 = no beam search). */
    public int numBeams() {
        return numBeams;
    }

    /** Beam scores are divided by length^lengthPenalty. */
    public double lengthPenalty() {
        return lengthPenalty;
    }

    /** Beam search stops when numBeams hypotheses are finished. */
    public boolean earlyStopping() {
        return earlyStopping;
    }

    /** Sequences returned per prompt (≤ numBeams). */
    public int numReturnSequences() {
        return numReturnSequences;
    }

    /** An n-gram may not occur twice (0 = off). */
    public int noRepeatNgramSize() {
        return noRepeatNgramSize;
    }

    /** CTRL-style penalty on already present tokens (1 = off). */
    public double repetitionPenalty() {
        return repetitionPenalty;
    }

    /** Any of these ends a sequence; empty = the model's. */
    public List<Long> eosTokenIds() {
        return eosTokenIds;
    }

    /** Pad id, or -1 for the model's. */
    public long padTokenId() {
        return padTokenId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationConfig c && maxNewTokens == c.maxNewTokens && minNewTokens == c.minNewTokens
                && doSample == c.doSample && Double.compare(temperature, c.temperature) == 0 && topK == c.topK
                && Double.compare(topP, c.topP) == 0 && seed == c.seed && numBeams == c.numBeams
                && Double.compare(lengthPenalty, c.lengthPenalty) == 0 && earlyStopping == c.earlyStopping
                && numReturnSequences == c.numReturnSequences && noRepeatNgramSize == c.noRepeatNgramSize
                && Double.compare(repetitionPenalty, c.repetitionPenalty) == 0 && eosTokenIds.equals(c.eosTokenIds)
                && padTokenId == c.padTokenId;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(maxNewTokens, minNewTokens, doSample, temperature, topK, topP, seed, numBeams,
                lengthPenalty, earlyStopping, numReturnSequences, noRepeatNgramSize, repetitionPenalty, eosTokenIds,
                padTokenId);
    }

    @Override
    public String toString() {
        return "GenerationConfig[max_new_tokens=" + maxNewTokens + ", min_new_tokens=" + minNewTokens + ", do_sample="
                + doSample + ", temperature=" + temperature + ", top_k=" + topK + ", top_p=" + topP + ", seed=" + seed
                + ", num_beams=" + numBeams + ", length_penalty=" + lengthPenalty + ", early_stopping=" + earlyStopping
                + ", num_return_sequences=" + numReturnSequences + ", no_repeat_ngram_size=" + noRepeatNgramSize
                + ", repetition_penalty=" + repetitionPenalty + ", eos_token_id=" + eosTokenIds + ", pad_token_id="
                + padTokenId + "]";
    }

    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, 0, false, 1.0, 0, 1.0, 0, 1, 1.0, false, 1, 0, 1.0, List.of(), -1);
    }

    /** Seeded sampling with the given warpers (top_k 0 and top_p 1 are off). */
    public static GenerationConfig sampling(int maxNewTokens, double temperature, int topK, double topP, long seed) {
        return new GenerationConfig(maxNewTokens, 0, true, temperature, topK, topP, seed, 1, 1.0, false, 1, 0, 1.0,
                List.of(), -1);
    }

    /** Beam search (no sampling). */
    public static GenerationConfig beamSearch(int maxNewTokens, int numBeams, double lengthPenalty,
                                              boolean earlyStopping, int numReturnSequences) {
        return new GenerationConfig(maxNewTokens, 0, false, 1.0, 0, 1.0, 0, numBeams, lengthPenalty, earlyStopping,
                numReturnSequences, 0, 1.0, List.of(), -1);
    }

    /** A builder starting from this config. */
    public Builder toBuilder() {
        return new Builder().maxNewTokens(maxNewTokens).minNewTokens(minNewTokens).doSample(doSample)
                .temperature(temperature).topK(topK).topP(topP).seed(seed).numBeams(numBeams)
                .lengthPenalty(lengthPenalty).earlyStopping(earlyStopping ? BeamOptions.EarlyStopping.TRUE
                        : BeamOptions.EarlyStopping.FALSE)
                .numReturnSequences(numReturnSequences).noRepeatNgramSize(noRepeatNgramSize)
                .repetitionPenalty(repetitionPenalty).eosTokenIds(eosTokenIds).padTokenId(padTokenId);
    }

    public boolean isBeamSearch() {
        return numBeams > 1;
    }

    /**
     * Checks that the options make sense together, with transformers' rules; returns this config or throws a
     * {@link StepwiseException} whose one-line message names the option (in generation_config.json spelling).
     */
    public GenerationConfig validate() {
        require(maxNewTokens >= 1, "max_new_tokens must be at least 1, got " + maxNewTokens);
        require(minNewTokens >= 0, "min_new_tokens must not be negative, got " + minNewTokens);
        require(minNewTokens <= maxNewTokens,
                "min_new_tokens (" + minNewTokens + ") is larger than max_new_tokens (" + maxNewTokens + ")");
        require(temperature > 0 && Double.isFinite(temperature),
                "temperature must be a positive number, got " + temperature);
        require(topK >= 0, "top_k must be 0 (off) or positive, got " + topK);
        require(topP > 0 && topP <= 1, "top_p must be in (0, 1], got " + topP);
        require(numBeams >= 1, "num_beams must be at least 1, got " + numBeams);
        require(numReturnSequences >= 1, "num_return_sequences must be at least 1, got " + numReturnSequences);
        require(!(doSample && numBeams > 1),
                "sampling with num_beams > 1 (beam sampling) is not supported; use do_sample or num_beams, not both");
        if (numBeams > 1) {
            require(numReturnSequences <= numBeams, "num_return_sequences (" + numReturnSequences
                    + ") must not exceed num_beams (" + numBeams + ")");
        } else {
            require(doSample || numReturnSequences == 1, "num_return_sequences " + numReturnSequences
                    + " needs beam search (num_beams >= num_return_sequences) or sampling; greedy decoding returns one sequence");
        }
        require(Double.isFinite(lengthPenalty), "length_penalty must be a finite number, got " + lengthPenalty);
        require(noRepeatNgramSize >= 0, "no_repeat_ngram_size must be 0 (off) or positive, got " + noRepeatNgramSize);
        require(repetitionPenalty > 0 && Double.isFinite(repetitionPenalty),
                "repetition_penalty must be a positive number (1 = off), got " + repetitionPenalty);
        for (long id : eosTokenIds) {
            require(id >= 0, "eos_token_id must not be negative, got " + id);
        }
        require(padTokenId >= -1, "pad_token_id must not be negative, got " + padTokenId);
        return this;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new StepwiseException(message);
        }
    }

    /**
     * Assembles a config from layers: transformers' defaults, then a model folder's {@code generation_config.json},
     * then explicit settings (command-line flags); a later layer overrides an earlier one key by key. The length
     * limit is resolved against the prompt: {@code max_new_tokens} wins over {@code max_length} (which counts the
     * prompt, as in transformers); with neither, 20 new tokens. {@code min_length} likewise becomes
     * {@code min_new_tokens} unless that is set.
     */
    public static final class Builder {
        private Integer maxNewTokens;
        private Integer maxLength;
        private Integer minNewTokens;
        private Integer minLength;
        private Boolean doSample;
        private Double temperature;
        private Integer topK;
        private Double topP;
        private Long seed;
        private Integer numBeams;
        private Double lengthPenalty;
        private BeamOptions.EarlyStopping earlyStopping;
        private Integer numReturnSequences;
        private Integer noRepeatNgramSize;
        private Double repetitionPenalty;
        private List<Long> eosTokenIds;
        private Long padTokenId;

        public Builder() {
        }

        /** The model folder's {@code generation_config.json} if there is one, else an empty builder. */
        public static Builder fromModelDir(Path modelDir) {
            Path file = modelDir.resolve("generation_config.json");
            return Files.isRegularFile(file) ? fromJson(file) : new Builder();
        }

        /** Reads the keys Stepwise knows from a {@code generation_config.json}; unknown keys are ignored. */
        public static Builder fromJson(Path file) {
            JsonObject json = ModelConfig.readJson(file);
            Builder b = new Builder();
            JsonReads r = new JsonReads(file, json);
            b.maxNewTokens = r.integer("max_new_tokens");
            b.maxLength = r.integer("max_length");
            b.minNewTokens = r.integer("min_new_tokens");
            b.minLength = r.integer("min_length");
            b.doSample = r.bool("do_sample");
            b.temperature = r.number("temperature");
            b.topK = r.integer("top_k");
            b.topP = r.number("top_p");
            b.numBeams = r.integer("num_beams");
            b.lengthPenalty = r.number("length_penalty");
            b.earlyStopping = r.earlyStopping("early_stopping");
            b.numReturnSequences = r.integer("num_return_sequences");
            b.noRepeatNgramSize = r.integer("no_repeat_ngram_size");
            b.repetitionPenalty = r.number("repetition_penalty");
            b.eosTokenIds = r.ids("eos_token_id");
            List<Long> pad = r.ids("pad_token_id");
            b.padTokenId = pad == null || pad.isEmpty() ? null : pad.get(0);
            return b;
        }

        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
            return this;
        }

        /** Total length, prompt included (transformers' {@code max_length}); {@code max_new_tokens} wins over it. */
        public Builder maxLength(int v) {
            maxLength = v;
            return this;
        }

        public Builder minNewTokens(int v) {
            minNewTokens = v;
            return this;
        }

        public Builder doSample(boolean v) {
            doSample = v;
            return this;
        }

        public Builder temperature(double v) {
            temperature = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder topP(double v) {
            topP = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder numBeams(int v) {
            numBeams = v;
            return this;
        }

        public Builder lengthPenalty(double v) {
            lengthPenalty = v;
            return this;
        }

        public Builder earlyStopping(BeamOptions.EarlyStopping v) {
            earlyStopping = v;
            return this;
        }

        public Builder numReturnSequences(int v) {
            numReturnSequences = v;
            return this;
        }

        public Builder noRepeatNgramSize(int v) {
            noRepeatNgramSize = v;
            return this;
        }

        public Builder repetitionPenalty(double v) {
            repetitionPenalty = v;
            return this;
        }

        public Builder eosTokenIds(List<Long> v) {
            eosTokenIds = List.copyOf(v);
            return this;
        }

        public Builder padTokenId(long v) {
            padTokenId = v;
            return this;
        }

        /** Whether sampling was asked for (explicitly or by generation_config.json). */
        public boolean doSample() {
            return doSample != null && doSample;
        }

        public int numBeams() {
            return numBeams == null ? 1 : numBeams;
        }

        /**
         * The config for prompts whose longest (padded) row has {@code promptLength} tokens; validated. Defaults are
         * transformers': greedy, temperature 1, top_k 50, top_p 1, one beam, length_penalty 1, early_stopping false,
         * one returned sequence, no n-gram ban, repetition_penalty 1; eos and pad from the model; seed 0.
         */
        public GenerationConfig build(int promptLength) {
            int maxNew;
            if (maxNewTokens != null) {
                maxNew = maxNewTokens;
            } else if (maxLength != null) {
                long left = (long) maxLength - promptLength; // in long: max_length -2^31 must not wrap around
                maxNew = (int) Math.max(Integer.MIN_VALUE, left);
                if (left < 1) {
                    throw new StepwiseException("max_length " + maxLength + " leaves no room for new tokens after a "
                            + promptLength + "-token prompt (set max_new_tokens instead)");
                }
            } else {
                maxNew = 20;
            }
            int minNew = minNewTokens != null ? minNewTokens
                    : minLength != null ? (int) Math.max(0, (long) minLength - promptLength) : 0;
            BeamOptions.EarlyStopping es = earlyStopping == null ? BeamOptions.EarlyStopping.FALSE : earlyStopping;
            return new GenerationConfig(maxNew, minNew, doSample(), or(temperature, 1.0), or(topK, 50),
                    or(topP, 1.0), or(seed, 0L), numBeams(), or(lengthPenalty, 1.0),
                    es == BeamOptions.EarlyStopping.TRUE, or(numReturnSequences, 1), or(noRepeatNgramSize, 0),
                    or(repetitionPenalty, 1.0), eosTokenIds == null ? List.of() : eosTokenIds,
                    padTokenId == null ? -1 : padTokenId).validate();
        }

        /** Beam options with this builder's early stopping (including {@code "never"}) and transformers' conventions. */
        public BeamOptions beamOptions() {
            return new BeamOptions(earlyStopping == null ? BeamOptions.EarlyStopping.FALSE : earlyStopping,
                    BeamOptions.Convention.TRANSFORMERS);
        }

        private static <T> T or(T value, T fallback) {
            return value != null ? value : fallback;
        }
    }

    /** Typed reads of generation_config.json keys; a mistyped value names the file and key. */
    private record JsonReads(Path file, JsonObject json) {
        private JsonElement get(String key) {
            JsonElement e = json.get(key);
            return e == null || e.isJsonNull() ? null : e;
        }

        private StepwiseException wrong(String key, String expected) {
            return new StepwiseException(file + ": " + key + " must be " + expected + ", found " + json.get(key));
        }

        Integer integer(String key) {
            JsonElement e = get(key);
            if (e == null) {
                return null;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw wrong(key, "an integer");
            }
            double d = e.getAsDouble();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw wrong(key, "an integer");
            }
            return (int) d;
        }

        Double number(String key) {
            JsonElement e = get(key);
            if (e == null) {
                return null;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw wrong(key, "a number");
            }
            return e.getAsDouble();
        }

        Boolean bool(String key) {
            JsonElement e = get(key);
            if (e == null) {
                return null;
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw wrong(key, "true or false");
            }
            return e.getAsBoolean();
        }

        BeamOptions.EarlyStopping earlyStopping(String key) {
            JsonElement e = get(key);
            if (e == null) {
                return null;
            }
            if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean()) {
                return e.getAsBoolean() ? BeamOptions.EarlyStopping.TRUE : BeamOptions.EarlyStopping.FALSE;
            }
            if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().equals("never")) {
                return BeamOptions.EarlyStopping.NEVER;
            }
            throw wrong(key, "true, false or \"never\"");
        }

        List<Long> ids(String key) {
            JsonElement e = get(key);
            if (e == null) {
                return null;
            }
            List<Long> out = new ArrayList<>();
            try {
                if (e.isJsonArray()) {
                    for (JsonElement x : e.getAsJsonArray()) {
                        out.add(exactLong(x));
                    }
                } else {
                    out.add(exactLong(e));
                }
            } catch (RuntimeException ex) {
                throw wrong(key, "a token id or a list of token ids");
            }
            return out;
        }

        private static long exactLong(JsonElement x) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException();
            }
            double d = x.getAsDouble();
            if (d != Math.rint(d)) {
                throw new IllegalArgumentException();
            }
            return x.getAsLong();
        }
    }
}
