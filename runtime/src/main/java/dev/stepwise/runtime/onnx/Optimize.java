package dev.stepwise.runtime.onnx;

import dev.stepwise.runtime.StepwiseException;
import java.util.Locale;

/** Which operators a traced graph may use. */
public enum Optimize {
    /** Standard ONNX operators only: portable to any runtime and to NPU compilers (the default). */
    PLAIN,
    /**
     * ONNX Runtime's fused {@code com.microsoft} operators where its CPU provider has them, for the forwards written
     * with {@link dev.stepwise.runtime.ops.Ops}' fused layers: {@code GroupQueryAttention} (the KV cache and the
     * sliding window inside), {@code RotaryEmbedding}, {@code SimplifiedLayerNormalization} and
     * {@code SkipSimplifiedLayerNormalization} for the LLaMA family; the same {@code GroupQueryAttention} (no rotary,
     * the causal mask as its bias), {@code SkipLayerNormalization} and {@code FastGelu} / {@code BiasGelu} for GPT-2,
     * GPT-Neo, OPT and BioGPT; {@code MultiHeadAttention} (the padding as its key mask), {@code SkipLayerNormalization}
     * and {@code BiasGelu} for the BERT and DistilBERT encoders. Such a file runs on ONNX Runtime only.
     */
    ORT;

    /** The name on the command line and in {@code stepwise.json}: {@code none} or {@code ort}. */
    public String cliName() {
        return this == PLAIN ? "none" : "ort";
    }

    /** The one-line refusal of an {@code --optimize ort} export of {@code modelType}, saying {@code why}. */
    public static StepwiseException refusal(String modelType, String why) {
        return new StepwiseException("--optimize ort: " + modelType + " cannot be exported with ONNX Runtime's fused"
                + " operators: " + why + " (--optimize ort supports llama, mistral, gpt2, gpt_neo, opt, biogpt, bert, distilbert)");
    }

    /** Parses {@link #cliName()}; {@code where} names the option or file in the error. */
    public static Optimize parse(String name, String where) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "none", "plain" -> PLAIN;
            case "ort" -> ORT;
            default -> throw new StepwiseException(where + ": optimize '" + name + "' is not one of none, ort");
        };
    }
}
