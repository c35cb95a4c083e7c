package dev.stepwise.annotations;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Where the normalized config values live in the checkpoint's {@code config.json}, like optimum's
 * {@code NormalizedTextConfig}. An empty string means "not in this architecture's config": the normalized value is
 * then derived ({@code num_key_value_heads} defaults to {@code num_attention_heads}).
 */
@Retention(RetentionPolicy.CLASS)
@Target({})
public @interface ConfigKeys {
    String numLayers() default "num_hidden_layers";

    String numAttentionHeads() default "num_attention_heads";

    String numKeyValueHeads() default "";

    String hiddenSize() default "hidden_size";

    String vocabSize() default "vocab_size";

    String maxPositions() default "max_position_embeddings";

    String eosTokenId() default "eos_token_id";

    String bosTokenId() default "bos_token_id";

    String padTokenId() default "pad_token_id";
}
