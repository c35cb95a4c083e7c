/**
 * Stepwise as a library. Start with {@link dev.stepwise.runtime.Stepwise}: {@code export} (a Hugging Face checkpoint
 * to ONNX, validated against PyTorch), {@code quantize} (int8 dynamic, int8 static QDQ, int4), {@code unroll} (one
 * static graph per generation step), {@code tritonRepository} (an export laid out for Triton Inference Server) and
 * {@code open}, which gives a {@link dev.stepwise.runtime.LanguageModel} to
 * generate text or ids with (greedy, seeded sampling, beam search, streaming). Options are immutable values:
 * {@code ExportOptions}, {@code QuantizeOptions}, {@code UnrollOptions}, and {@code GenerationConfig.Builder} for
 * generation settings. Failures the caller can act on are {@link dev.stepwise.runtime.StepwiseException}s with
 * one-line messages; an option an engine cannot honour is its subclass
 * {@code UnsupportedOptionException}. The other packages are the machinery behind these entry points.
 */
package dev.stepwise.runtime;
