package dev.stepwise.runtime.generate;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.JsonKeys;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to generate, with transformers' names and meanings ({@code max_new_tokens}, {@code do_sample}, {@code top_p},
 * {@code num_beams}, ...). Defaults are greedy decoding of up to 20 new tokens; a model folder's
 * {@code generation_config.json} supplies defaults that the caller's settings override. Made by {@link Builder}
 * (usually {@link dev.stepwise.runtime.LanguageModel#settings()}), or by the {@link #greedy}, {@link #sampling} and
 * {@link #beamSearch} shortcuts, never by position: fifteen settings in a row are too easy to shift by one. Immutable
 * and thread-safe; {@link #toBuilder()} starts a variant.
 *
 * <pre>{@code
 * GenerationConfig sampled = model.settings().doSample(true).temperature(0.7).topP(0.9).seed(1).build(promptLength);
 * GenerationConfig beams = sampled.toBuilder().doSample(false).numBeams(4).build(promptLength);
 * }</pre>
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
    private final BeamOptions.EarlyStopping earlyStopping;
    private final int numReturnSequences;
    private final int noRepeatNgramSize;
    private final double repetitionPenalty;
    private final List<Long> eosTokenIds;
    private final long padTokenId;
    private final long forcedBosTokenId;
    private final long forcedEosTokenId;

    private GenerationConfig(int maxNewTokens, int minNewTokens, boolean doSample, double temperature, int topK,
                             double topP, long seed, int numBeams, double lengthPenalty,
                             BeamOptions.EarlyStopping earlyStopping, int numReturnSequences, int noRepeatNgramSize,
                             double repetitionPenalty, List<Long> eosTokenIds, long padTokenId, long forcedBosTokenId,
                             long forcedEosTokenId) {
        this.forcedBosTokenId = forcedBosTokenId;
        this.forcedEosTokenId = forcedEosTokenId;
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

    /**
     * Upper bound of generated tokens per sequence.
     *
     * @return {@code max_new_tokens}, at least 1
     */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /**
     * Eos is suppressed until this many tokens were generated.
     *
     * @return {@code min_new_tokens}, 0 for none
     */
    public int minNewTokens() {
        return minNewTokens;
    }

    /**
     * Whether tokens are sampled rather than chosen by argmax or beam scores.
     *
     * @return {@code do_sample}
     */
    public boolean doSample() {
        return doSample;
    }

    /**
     * Logits are divided by it before sampling.
     *
     * @return {@code temperature}, above 0; 1 leaves them unchanged
     */
    public double temperature() {
        return temperature;
    }

    /**
     * Sampling keeps the k most likely tokens.
     *
     * @return {@code top_k}; 0 for off
     */
    public int topK() {
        return topK;
    }

    /**
     * Nucleus sampling keeps the smallest set of tokens whose probability reaches p.
     *
     * @return {@code top_p}, in (0, 1]; 1 for off
     */
    public double topP() {
        return topP;
    }

    /**
     * The sampling seed: the same seed, settings and prompt give the same tokens.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * The beam search width.
     *
     * @return {@code num_beams}; 1 for no beam search
     */
    public int numBeams() {
        return numBeams;
    }

    /**
     * Beam scores (sums of log-probabilities) are divided by the length to this power: above 0 favours longer
     * sequences.
     *
     * @return {@code length_penalty}; 1 by default
     */
    public double lengthPenalty() {
        return lengthPenalty;
    }

    /**
     * Whether beam search stops as soon as {@code num_beams} hypotheses are finished.
     *
     * @return true when {@code early_stopping} is {@code true}; false for {@code false} and for {@code "never"}
     *         ({@link #earlyStoppingMode()} tells them apart)
     */
    public boolean earlyStopping() {
        return earlyStopping == BeamOptions.EarlyStopping.TRUE;
    }

    /**
     * transformers' three-valued {@code early_stopping}.
     *
     * @return {@code TRUE}, {@code FALSE} (the default) or {@code NEVER}, as the folder's
     *         {@code generation_config.json} or the builder set it
     */
    public BeamOptions.EarlyStopping earlyStoppingMode() {
        return earlyStopping;
    }

    /**
     * Sequences returned per prompt: at most {@code num_beams} for beam search; any number for sampling.
     *
     * @return {@code num_return_sequences}
     */
    public int numReturnSequences() {
        return numReturnSequences;
    }

    /**
     * No n-gram of this size may occur twice in a sequence.
     *
     * @return {@code no_repeat_ngram_size}; 0 for off
     */
    public int noRepeatNgramSize() {
        return noRepeatNgramSize;
    }

    /**
     * CTRL's penalty on tokens already in the sequence (positive logits divided by it, negative ones multiplied).
     *
     * @return {@code repetition_penalty}; 1 for off
     */
    public double repetitionPenalty() {
        return repetitionPenalty;
    }

    /**
     * Token ids any of which ends a sequence.
     *
     * @return {@code eos_token_id}; empty for the model's
     */
    public List<Long> eosTokenIds() {
        return eosTokenIds;
    }

    /**
     * The id fed to left-padded and finished rows.
     *
     * @return {@code pad_token_id}, or -1 for the model's
     */
    public long padTokenId() {
        return padTokenId;
    }

    /**
     * The token forced as the first generated one when the sequence so far is one token long (an encoder-decoder's
     * decoder start), as transformers' {@code ForcedBOSTokenLogitsProcessor}.
     *
     * @return {@code forced_bos_token_id}, or -1 for none
     */
    public long forcedBosTokenId() {
        return forcedBosTokenId;
    }

    /**
     * The token forced as the last one when {@code max_new_tokens} is reached, as transformers'
     * {@code ForcedEOSTokenLogitsProcessor}.
     *
     * @return {@code forced_eos_token_id}, or -1 for none
     */
    public long forcedEosTokenId() {
        return forcedEosTokenId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationConfig c && maxNewTokens == c.maxNewTokens && minNewTokens == c.minNewTokens
                && doSample == c.doSample && Double.compare(temperature, c.temperature) == 0 && topK == c.topK
                && Double.compare(topP, c.topP) == 0 && seed == c.seed && numBeams == c.numBeams
                && Double.compare(lengthPenalty, c.lengthPenalty) == 0 && earlyStopping == c.earlyStopping
                && numReturnSequences == c.numReturnSequences && noRepeatNgramSize == c.noRepeatNgramSize
                && Double.compare(repetitionPenalty, c.repetitionPenalty) == 0 && eosTokenIds.equals(c.eosTokenIds)
                && padTokenId == c.padTokenId && forcedBosTokenId == c.forcedBosTokenId
                && forcedEosTokenId == c.forcedEosTokenId;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(maxNewTokens, minNewTokens, doSample, temperature, topK, topP, seed, numBeams,
                lengthPenalty, earlyStopping, numReturnSequences, noRepeatNgramSize, repetitionPenalty, eosTokenIds,
                padTokenId, forcedBosTokenId, forcedEosTokenId);
    }

    @Override
    public String toString() {
        return "GenerationConfig[max_new_tokens=" + maxNewTokens + ", min_new_tokens=" + minNewTokens + ", do_sample="
                + doSample + ", temperature=" + temperature + ", top_k=" + topK + ", top_p=" + topP + ", seed=" + seed
                + ", num_beams=" + numBeams + ", length_penalty=" + lengthPenalty + ", early_stopping=" + earlyStopping.name().toLowerCase(java.util.Locale.ROOT)
                + ", num_return_sequences=" + numReturnSequences + ", no_repeat_ngram_size=" + noRepeatNgramSize
                + ", repetition_penalty=" + repetitionPenalty + ", eos_token_id=" + eosTokenIds + ", pad_token_id="
                + padTokenId + (forcedBosTokenId >= 0 ? ", forced_bos_token_id=" + forcedBosTokenId : "")
                + (forcedEosTokenId >= 0 ? ", forced_eos_token_id=" + forcedEosTokenId : "") + "]";
    }

    /**
     * Greedy decoding with everything else at transformers' defaults (eos and pad from the model).
     *
     * @param maxNewTokens upper bound of generated tokens, at least 1
     * @return the settings (validated when generating)
     */
    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, 0, false, 1.0, 0, 1.0, 0, 1, 1.0, BeamOptions.EarlyStopping.FALSE, 1,
                0, 1.0, List.of(), -1, -1, -1);
    }

    /**
     * Seeded sampling with the given warpers.
     *
     * @param maxNewTokens upper bound of generated tokens, at least 1
     * @param temperature  logits are divided by it, above 0
     * @param topK         keep the k most likely tokens; 0 for off
     * @param topP         keep the smallest set reaching this probability, in (0, 1]; 1 for off
     * @param seed         the seed
     * @return the settings (validated when generating)
     */
    public static GenerationConfig sampling(int maxNewTokens, double temperature, int topK, double topP, long seed) {
        return new GenerationConfig(maxNewTokens, 0, true, temperature, topK, topP, seed, 1, 1.0,
                BeamOptions.EarlyStopping.FALSE, 1, 0, 1.0, List.of(), -1, -1, -1);
    }

    /**
     * Beam search without sampling.
     *
     * @param maxNewTokens       upper bound of generated tokens, at least 1
     * @param numBeams           the beam width, at least 1
     * @param lengthPenalty      scores are divided by the length to this power
     * @param earlyStopping      whether to stop as soon as {@code numBeams} hypotheses are finished
     * @param numReturnSequences sequences returned per prompt, at most {@code numBeams}
     * @return the settings (validated when generating)
     */
    public static GenerationConfig beamSearch(int maxNewTokens, int numBeams, double lengthPenalty,
                                              boolean earlyStopping, int numReturnSequences) {
        return new GenerationConfig(maxNewTokens, 0, false, 1.0, 0, 1.0, 0, numBeams, lengthPenalty,
                earlyStopping ? BeamOptions.EarlyStopping.TRUE : BeamOptions.EarlyStopping.FALSE,
                numReturnSequences, 0, 1.0, List.of(), -1, -1, -1);
    }

    /**
     * A builder holding these settings, to make a variant.
     *
     * @return a new builder; {@code max_new_tokens} is set, so {@code build}'s prompt length does not change it
     */
    public Builder toBuilder() {
        return new Builder().maxNewTokens(maxNewTokens).minNewTokens(minNewTokens).doSample(doSample)
                .temperature(temperature).topK(topK).topP(topP).seed(seed).numBeams(numBeams)
                .lengthPenalty(lengthPenalty).earlyStopping(earlyStopping)
                .numReturnSequences(numReturnSequences).noRepeatNgramSize(noRepeatNgramSize)
                .repetitionPenalty(repetitionPenalty).eosTokenIds(eosTokenIds).padTokenId(padTokenId)
                .forcedBosTokenId(forcedBosTokenId).forcedEosTokenId(forcedEosTokenId);
    }

    /**
     * Whether these settings ask for beam search.
     *
     * @return true when {@code num_beams > 1}
     */
    public boolean isBeamSearch() {
        return numBeams > 1;
    }

    /**
     * Checks that the options make sense together, with transformers' rules; returns this config or throws a
     * {@link StepwiseException} whose one-line message names the option (in generation_config.json spelling).
     *
     * @return this config
     * @throws StepwiseException naming the first option out of range or in conflict with another
     */
    public GenerationConfig validate() {
        require(maxNewTokens >= 1, "max_new_tokens must be at least 1, got " + maxNewTokens);
        require(forcedBosTokenId >= -1, "forced_bos_token_id must be a token id (0 or more), got " + forcedBosTokenId);
        require(forcedEosTokenId >= -1, "forced_eos_token_id must be a token id (0 or more), got " + forcedEosTokenId);
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
        private Long forcedBosTokenId;
        private Long forcedEosTokenId;

        /** An empty builder: every setting at transformers' default until set. */
        public Builder() {
        }

        /**
         * A builder holding a model folder's {@code generation_config.json}.
         *
         * @param modelDir an exported, quantized or unrolled folder (or a checkpoint folder)
         * @return a builder holding its settings, or an empty builder when it has no {@code generation_config.json}
         * @throws StepwiseException when the file is not valid JSON or a known key has the wrong type
         */
        public static Builder fromModelDir(Path modelDir) {
            Path file = modelDir.resolve("generation_config.json");
            return Files.isRegularFile(file) ? fromJson(file) : new Builder();
        }

        /**
         * A builder holding the keys Stepwise knows from a {@code generation_config.json}; unknown keys are ignored.
         *
         * @param file the JSON file
         * @return a builder holding its settings
         * @throws StepwiseException naming the file and key, when the file cannot be read, is not valid JSON, or a
         *                           known key has the wrong type
         */
        public static Builder fromJson(Path file) {
            return fromJson(ModelConfig.readJson(file), file);
        }

        /**
         * As {@link #fromJson(Path)} for generation settings held in a JSON object (an entry of config.json's
         * {@code task_specific_params}, say).
         *
         * @param json   the settings
         * @param file the file they come from, named in errors
         * @return a builder holding them
         * @throws StepwiseException naming the file and key when a known key has the wrong type
         */
        public static Builder fromJson(JsonObject json, Path file) {
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
            b.forcedBosTokenId = first(r.ids("forced_bos_token_id"));
            b.forcedEosTokenId = first(r.ids("forced_eos_token_id"));
            return b;
        }

        /**
         * This builder with every setting that {@code other} holds taken from {@code other} (transformers'
         * {@code GenerationConfig.update}): defaults first, then the settings that override them.
         *
         * @param other settings that win over this builder's
         * @return this builder
         */
        public Builder overriddenBy(Builder other) {
            maxNewTokens = or(other.maxNewTokens, maxNewTokens);
            maxLength = or(other.maxLength, maxLength);
            minNewTokens = or(other.minNewTokens, minNewTokens);
            minLength = or(other.minLength, minLength);
            doSample = or(other.doSample, doSample);
            temperature = or(other.temperature, temperature);
            topK = or(other.topK, topK);
            topP = or(other.topP, topP);
            seed = or(other.seed, seed);
            numBeams = or(other.numBeams, numBeams);
            lengthPenalty = or(other.lengthPenalty, lengthPenalty);
            earlyStopping = or(other.earlyStopping, earlyStopping);
            numReturnSequences = or(other.numReturnSequences, numReturnSequences);
            noRepeatNgramSize = or(other.noRepeatNgramSize, noRepeatNgramSize);
            repetitionPenalty = or(other.repetitionPenalty, repetitionPenalty);
            eosTokenIds = or(other.eosTokenIds, eosTokenIds);
            padTokenId = or(other.padTokenId, padTokenId);
            forcedBosTokenId = or(other.forcedBosTokenId, forcedBosTokenId);
            forcedEosTokenId = or(other.forcedEosTokenId, forcedEosTokenId);
            return this;
        }

        private static Long first(List<Long> ids) {
            return ids == null || ids.isEmpty() ? null : ids.get(0);
        }

        /**
         * Sets the upper bound of generated tokens per sequence; it wins over {@link #maxLength}.
         *
         * @param v {@code max_new_tokens}, at least 1; 20 when neither it nor {@code max_length} is set
         * @return this builder
         */
        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
            return this;
        }

        /**
         * Sets the total length, prompt included (transformers' {@code max_length}); {@link #maxNewTokens} wins over
         * it. {@link #build(int)} turns it into new tokens with the prompt length.
         *
         * @param v {@code max_length}, longer than the prompt
         * @return this builder
         */
        public Builder maxLength(int v) {
            maxLength = v;
            return this;
        }

        /**
         * Suppresses eos until this many tokens were generated.
         *
         * @param v {@code min_new_tokens}, 0 (default) or more, at most {@code max_new_tokens}
         * @return this builder
         */
        public Builder minNewTokens(int v) {
            minNewTokens = v;
            return this;
        }

        /**
         * Samples tokens instead of choosing them by argmax or beam scores.
         *
         * @param v {@code do_sample}; false by default
         * @return this builder
         */
        public Builder doSample(boolean v) {
            doSample = v;
            return this;
        }

        /**
         * Sets the temperature logits are divided by before sampling.
         *
         * @param v {@code temperature}, above 0; 1 by default
         * @return this builder
         */
        public Builder temperature(double v) {
            temperature = v;
            return this;
        }

        /**
         * Keeps the k most likely tokens when sampling.
         *
         * @param v {@code top_k}; 0 for off, 50 (transformers' default) by default
         * @return this builder
         */
        public Builder topK(int v) {
            topK = v;
            return this;
        }

        /**
         * Keeps the smallest set of tokens whose probability reaches p when sampling (nucleus sampling).
         *
         * @param v {@code top_p}, in (0, 1]; 1 (off) by default
         * @return this builder
         */
        public Builder topP(double v) {
            topP = v;
            return this;
        }

        /**
         * Sets the sampling seed.
         *
         * @param v the seed; 0 by default
         * @return this builder
         */
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /**
         * Sets the beam search width.
         *
         * @param v {@code num_beams}; 1 (no beam search) by default
         * @return this builder
         */
        public Builder numBeams(int v) {
            numBeams = v;
            return this;
        }

        /**
         * Sets the power of the length that beam scores are divided by.
         *
         * @param v {@code length_penalty}, finite; 1 by default
         * @return this builder
         */
        public Builder lengthPenalty(double v) {
            lengthPenalty = v;
            return this;
        }

        /**
         * Sets when beam search is done.
         *
         * @param v {@code early_stopping}; {@link BeamOptions.EarlyStopping#FALSE} by default
         * @return this builder
         */
        public Builder earlyStopping(BeamOptions.EarlyStopping v) {
            earlyStopping = v;
            return this;
        }

        /**
         * Sets the sequences returned per prompt.
         *
         * @param v {@code num_return_sequences}: at most {@code num_beams} for beam search, any number for sampling, 1 for greedy decoding; 1 by default
         * @return this builder
         */
        public Builder numReturnSequences(int v) {
            numReturnSequences = v;
            return this;
        }

        /**
         * Forbids any n-gram of this size to occur twice in a sequence.
         *
         * @param v {@code no_repeat_ngram_size}; 0 (off) by default
         * @return this builder
         */
        public Builder noRepeatNgramSize(int v) {
            noRepeatNgramSize = v;
            return this;
        }

        /**
         * Sets CTRL's penalty on tokens already in the sequence.
         *
         * @param v {@code repetition_penalty}, above 0; 1 (off) by default
         * @return this builder
         */
        public Builder repetitionPenalty(double v) {
            repetitionPenalty = v;
            return this;
        }

        /**
         * Sets the ids that end a sequence, replacing the model's.
         *
         * @param v {@code eos_token_id}: the ids, each 0 or more; empty for the model's
         * @return this builder
         */
        public Builder eosTokenIds(List<Long> v) {
            eosTokenIds = List.copyOf(v);
            return this;
        }

        /**
         * Sets the id fed to left-padded and finished rows.
         *
         * @param v {@code pad_token_id}, 0 or more; -1 for the model's
         * @return this builder
         */
        public Builder padTokenId(long v) {
            padTokenId = v;
            return this;
        }

        /**
         * Forces the first generated token of a one-token sequence (an encoder-decoder's decoder start).
         *
         * @param v {@code forced_bos_token_id}, 0 or more; -1 for none
         * @return this builder
         */
        public Builder forcedBosTokenId(long v) {
            forcedBosTokenId = v;
            return this;
        }

        /**
         * Forces the last token when {@code max_new_tokens} is reached.
         *
         * @param v {@code forced_eos_token_id}, 0 or more; -1 for none
         * @return this builder
         */
        public Builder forcedEosTokenId(long v) {
            forcedEosTokenId = v;
            return this;
        }

        /**
         * Whether sampling was asked for (explicitly or by generation_config.json).
         *
         * @return the {@code do_sample} set so far; false when unset
         */
        public boolean doSample() {
            return doSample != null && doSample;
        }

        /**
         * The beam width asked for so far.
         *
         * @return the {@code num_beams} set so far; 1 when unset
         */
        public int numBeams() {
            return numBeams == null ? 1 : numBeams;
        }

        /**
         * The config for prompts whose longest (padded) row has {@code promptLength} tokens; validated. Defaults are
         * transformers': greedy, temperature 1, top_k 50, top_p 1, one beam, length_penalty 1, early_stopping false,
         * one returned sequence, no n-gram ban, repetition_penalty 1; eos and pad from the model; seed 0.
         *
         * @param promptLength tokens in the longest prompt row; it matters only when {@code max_length} (or
         *                     {@code min_length}) is set and {@code max_new_tokens} is not; for a text prompt,
         *                     {@code model.encode(prompt).length}
         * @return the validated settings
         * @throws StepwiseException when {@code max_length} leaves no room after the prompt, or a setting is out of
         *                           range or in conflict with another ({@link GenerationConfig#validate()})
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
                    es, or(numReturnSequences, 1), or(noRepeatNgramSize, 0),
                    or(repetitionPenalty, 1.0), eosTokenIds == null ? List.of() : eosTokenIds,
                    padTokenId == null ? -1 : padTokenId, or(forcedBosTokenId, -1L), or(forcedEosTokenId, -1L))
                    .validate();
        }

        /**
         * Beam options with this builder's early stopping (including {@code "never"}) and transformers' conventions,
         * as {@link BeamOptions#of} gives for the built config.
         *
         * @return the beam options
         */
        public BeamOptions beamOptions() {
            return new BeamOptions(earlyStopping == null ? BeamOptions.EarlyStopping.FALSE : earlyStopping,
                    BeamOptions.Convention.TRANSFORMERS);
        }

        private static <T> T or(T value, T fallback) {
            return value != null ? value : fallback;
        }
    }

    /** Typed reads of generation_config.json keys; a mistyped value names the file and key. */
    private record JsonReads(JsonKeys keys) {
        JsonReads(Path file, JsonObject json) {
            this(new JsonKeys(file, json, key -> key));
        }

        Integer integer(String key) {
            JsonPrimitive p = keys.primitive(key, JsonPrimitive::isNumber, "an integer");
            if (p == null) {
                return null;
            }
            double d = p.getAsDouble();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw keys.wrong(key, "an integer");
            }
            return (int) d;
        }

        Double number(String key) {
            JsonPrimitive p = keys.primitive(key, JsonPrimitive::isNumber, "a number");
            return p == null ? null : p.getAsDouble();
        }

        Boolean bool(String key) {
            JsonPrimitive p = keys.primitive(key, JsonPrimitive::isBoolean, "true or false");
            return p == null ? null : p.getAsBoolean();
        }

        BeamOptions.EarlyStopping earlyStopping(String key) {
            JsonElement e = keys.get(key);
            if (e == null) {
                return null;
            }
            if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean()) {
                return e.getAsBoolean() ? BeamOptions.EarlyStopping.TRUE : BeamOptions.EarlyStopping.FALSE;
            }
            if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().equals("never")) {
                return BeamOptions.EarlyStopping.NEVER;
            }
            throw keys.wrong(key, "true, false or \"never\"");
        }

        List<Long> ids(String key) {
            JsonElement e = keys.get(key);
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
                throw keys.wrong(key, "a token id or a list of token ids");
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
