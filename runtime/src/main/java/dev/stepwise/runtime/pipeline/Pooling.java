package dev.stepwise.runtime.pipeline;

import dev.stepwise.runtime.util.CliNames;

/** How feature-extraction turns token vectors into one vector per text, as sentence-transformers' Pooling does. */
public enum Pooling {
    /** The mean of the real (unpadded) tokens' vectors: sentence-transformers' {@code pooling_mode_mean_tokens}. */
    MEAN,
    /** The first token's ({@code [CLS]}) vector: {@code pooling_mode_cls_token}. */
    CLS,
    /** No pooling: every real token's vector (transformers' feature-extraction pipeline). */
    NONE;

    public static Pooling parse(String name) {
        return CliNames.parse(Pooling.class, "pooling", name);
    }
}
