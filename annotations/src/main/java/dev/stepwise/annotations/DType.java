package dev.stepwise.annotations;

/**
 * Element types of graph inputs and outputs, and the floating type of an export
 * ({@code ExportOptions.withDtype}, which takes {@link #FLOAT} or {@link #FLOAT16}).
 */
public enum DType {
    /** 64-bit signed integers (ONNX {@code int64}): token ids, position ids, attention masks. */
    INT64,
    /** 32-bit signed integers (ONNX {@code int32}). */
    INT32,
    /** 32-bit IEEE floats (ONNX {@code float}). */
    FLOAT,
    /** 16-bit IEEE half-precision floats (ONNX {@code float16}). */
    FLOAT16,
    /** Booleans (ONNX {@code bool}). */
    BOOL
}
