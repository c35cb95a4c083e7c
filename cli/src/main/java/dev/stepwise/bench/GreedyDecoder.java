package dev.stepwise.bench;

/** An engine that decodes greedily with a KV cache: ONNX Runtime on the export, or the PyTorch-engine reference. */
interface GreedyDecoder extends AutoCloseable {
    /** Short name for progress lines and the table. */
    String name();

    /** Prefills {@code prompts} (equal-length rows, no padding) and decodes until each row has {@code newTokens}. */
    DecodeRun decode(long[][] prompts, int newTokens);

    @Override
    void close();
}
