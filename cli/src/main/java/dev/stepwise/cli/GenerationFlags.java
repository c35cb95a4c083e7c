package dev.stepwise.cli;

import dev.stepwise.cli.GenerateCommand.UsageError;
import dev.stepwise.runtime.generate.BeamOptions;
import dev.stepwise.runtime.generate.GenerationConfig;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

/**
 * generate's flags over the folder's generation_config.json, one mixin per concern. A flag left out is null and keeps
 * the folder's value.
 */
final class GenerationFlags {
    private GenerationFlags() {
    }

    /** How long a generation runs. */
    static final class Length {
        @Option(names = "--max-new-tokens", paramLabel = "N",
                description = "Maximum number of new tokens (default: generation_config.json's max_new_tokens or max_length, else 20).")
        Integer maxNewTokens;

        @Option(names = "--max-length", paramLabel = "N", description = "Maximum total length, prompt included (transformers' max_length).")
        Integer maxLength;

        @Option(names = "--min-new-tokens", paramLabel = "N", description = "Suppress eos until N tokens were generated.")
        Integer minNewTokens;

        void applyTo(GenerationConfig.Builder b) {
            ifGiven(maxNewTokens, b::maxNewTokens);
            ifGiven(maxLength, b::maxLength);
            ifGiven(minNewTokens, b::minNewTokens);
        }
    }

    /** Seeded sampling's settings; they apply only when the generation samples. */
    static final class Sampling {
        @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature (> 0; default 1).")
        Double temperature;

        @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely tokens (0 = off; default 50, as transformers).")
        Integer topK;

        @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling: in (0, 1] (1 = off; default 1).")
        Double topP;

        @Option(names = "--seed", paramLabel = "S", description = "Sampling seed (default 0); the same seed gives the same tokens.")
        Long seed;

        void applyTo(GenerationConfig.Builder b) {
            ifGiven(temperature, b::temperature);
            ifGiven(topK, b::topK);
            ifGiven(topP, b::topP);
            ifGiven(seed, b::seed);
        }

        /** The first of these flags that was given, null if none was. */
        String given() {
            return temperature != null ? "--temperature" : topK != null ? "--top-k" : topP != null ? "--top-p"
                    : seed != null ? "--seed" : null;
        }
    }

    /** Beam search's settings, and the sequences returned per prompt. */
    static final class Beam {
        @Option(names = "--num-beams", paramLabel = "K", description = "Beam search with K beams (1 = no beam search).")
        Integer numBeams;

        @Option(names = "--length-penalty", paramLabel = "X", description = "Beam scores are divided by length^X (default 1).")
        Double lengthPenalty;

        @Option(names = "--num-return-sequences", paramLabel = "R", description = "Sequences per prompt (beam search: R <= K; sampling: R draws).")
        Integer numReturnSequences;

        @Option(names = "--early-stopping", arity = "0..1", fallbackValue = "true", paramLabel = "true|false|never",
                description = "Beam search stopping rule (bare flag = true; default false, transformers' heuristic).")
        String earlyStopping;

        @Option(names = "--beam-convention", paramLabel = "transformers|onnxruntime",
                description = "Length normalisation and done test of beam search: transformers' (default) or onnxruntime's BeamSearch operator's.")
        String beamConvention;

        void applyTo(GenerationConfig.Builder b) {
            ifGiven(numBeams, b::numBeams);
            ifGiven(lengthPenalty, b::lengthPenalty);
            ifGiven(numReturnSequences, b::numReturnSequences);
            if (earlyStopping != null) {
                try {
                    b.earlyStopping(BeamOptions.EarlyStopping.parse(earlyStopping));
                } catch (IllegalArgumentException e) {
                    throw new UsageError("--early-stopping must be true, false or never, not '" + earlyStopping + "'");
                }
            }
        }

        /** Whose length normalisation and done test beam search follows (transformers' unless the flag says). */
        BeamOptions.Convention convention() {
            if (beamConvention == null) {
                return BeamOptions.Convention.TRANSFORMERS;
            }
            return switch (beamConvention.trim().toLowerCase(Locale.ROOT)) {
                case "transformers" -> BeamOptions.Convention.TRANSFORMERS;
                case "onnxruntime" -> BeamOptions.Convention.ONNX_RUNTIME;
                default -> throw new UsageError("--beam-convention must be transformers or onnxruntime, not '"
                        + beamConvention + "'");
            };
        }

        /** The first flag given that only beam search uses, null if none was. */
        String given() {
            return lengthPenalty != null ? "--length-penalty" : earlyStopping != null ? "--early-stopping"
                    : beamConvention != null ? "--beam-convention" : null;
        }
    }

    /** Which tokens may come next, and the special ids. */
    static final class TokenRules {
        @Option(names = "--no-repeat-ngram-size", paramLabel = "N", description = "No n-gram of this size occurs twice (0 = off).")
        Integer noRepeatNgramSize;

        @Option(names = "--repetition-penalty", paramLabel = "X", description = "Penalty on tokens already present (1 = off).")
        Double repetitionPenalty;

        @Option(names = "--eos-token-id", paramLabel = "IDS", split = ",", description = "Eos id(s), comma separated (default: the model's).")
        List<Long> eosTokenIds;

        @Option(names = "--pad-token-id", paramLabel = "ID", description = "Pad id (default: the model's).")
        Long padTokenId;

        void applyTo(GenerationConfig.Builder b) {
            ifGiven(noRepeatNgramSize, b::noRepeatNgramSize);
            ifGiven(repetitionPenalty, b::repetitionPenalty);
            ifGiven(eosTokenIds, b::eosTokenIds);
            ifGiven(padTokenId, b::padTokenId);
        }
    }

    /** A flag overrides the folder's setting only when it was given. */
    private static <T> void ifGiven(T flag, Consumer<T> setting) {
        if (flag != null) {
            setting.accept(flag);
        }
    }
}
