package dev.stepwise.bench;

import dev.stepwise.runtime.model.ModelConfig;
import java.util.Locale;

/**
 * Whether the PyTorch engine's eager forward fits in memory for a prompt: the float32 weights, every layer's
 * activations (kept until the step ends), and one layer's attention scores at a time (its product and scaled, masked,
 * soft-maxed forms and the copies libtorch makes on the way, counted as ten {@code [batch, heads, S, T]} float
 * tensors), which the composed attention frees as soon as its context is made ({@code Ops.scoped}). Before that
 * scope, every layer's scores stayed until the step ended and a 1024-token prefill of Llama-3.2-1B's shape was
 * killed by the kernel at 24.3 GB. A cell that would not fit is reported as not measured instead.
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
        return float32Weights + scores + layers * activations;
    }

    /** Why the engine cannot run this prefill here, or null when it fits. */
    static String tooLarge(ModelConfig config, long float32Weights, int batch, int length) {
        long needed = prefillBytes(config, float32Weights, batch, length);
        long physical = MachineFacts.physicalMemoryBytes();
        if (needed <= USABLE * physical) {
            return null;
        }
        return String.format(Locale.ROOT, "PyTorch engine not measured: its eager prefill of %d tokens x %d rows needs"
                + " ~%.1f GB (weights, activations and one layer's attention scores), more than %.0f%% of this"
                + " machine's %.1f GB", length, batch, needed / 1e9, USABLE * 100, physical / 1e9);
    }
}
