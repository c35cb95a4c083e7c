package dev.stepwise.bench;

import dev.stepwise.runtime.model.ModelConfig;
import java.util.Locale;

/**
 * Whether the PyTorch engine's eager forward fits in memory for a prompt. The engine frees a step's tensors when the
 * step ends, not layer by layer as transformers does, so a prefill holds every layer's attention scores at once
 * beside the float32 weights: the product and its scaled, masked, soft-maxed forms and the copies libtorch makes on
 * the way, counted as ten {@code [batch, heads, S, T]} float tensors per layer. That count is measured, not derived:
 * a 1024-token prefill of Llama-3.2-1B's shape (16 layers × 32 heads, 134 MB per score tensor) was killed by the
 * kernel at 24.3 GB of anonymous memory, past 19 GB above its weights. Such a cell is reported as not measured
 * instead of the process being killed.
 */
final class TorchMemory {
    /** Score-sized float tensors a layer keeps until the step ends (see above). */
    private static final int SCORE_TENSORS = 10;
    /** Share of the physical memory the engine may take (the JVM heap and the OS need the rest). */
    private static final double USABLE = 0.8;

    private TorchMemory() {
    }

    /** The estimated peak of a prefill of {@code length} tokens for {@code batch} rows, in bytes. */
    static long prefillBytes(ModelConfig config, long float32Weights, int batch, int length) {
        long layers = config.numLayers();
        long scores = SCORE_TENSORS * (long) batch * config.numAttentionHeads() * length * length * Float.BYTES;
        long width = config.hiddenSize();
        long inner = config.getInt("intermediate_size", 4 * config.hiddenSize());
        long activations = (long) batch * length * (8 * width + 3 * inner) * Float.BYTES; // per layer, roughly
        return float32Weights + layers * (scores + activations);
    }

    /** Why the engine cannot run this prefill here, or null when it fits. */
    static String tooLarge(ModelConfig config, long float32Weights, int batch, int length) {
        long needed = prefillBytes(config, float32Weights, batch, length);
        long physical = MachineFacts.physicalMemoryBytes();
        if (needed <= USABLE * physical) {
            return null;
        }
        return String.format(Locale.ROOT, "PyTorch engine not measured: its eager prefill of %d tokens x %d rows keeps"
                + " every layer's attention scores until the step ends, ~%.1f GB with the weights, more than %.0f%% of"
                + " this machine's %.1f GB", length, batch, needed / 1e9, USABLE * 100, physical / 1e9);
    }
}
