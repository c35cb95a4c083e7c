package dev.stepwise.runtime.generate;

import java.nio.file.Path;
import java.util.List;

/**
 * A way to run a whole generation for an exported model folder: the Java {@link Generator} driving the KV-cache
 * decoder step by step, the ONNX {@code Loop} graph, or ONNX Runtime's BeamSearch / GreedySearch / Sampling graphs.
 * All take the same request and answer in the same form, so they can be compared.
 */
public interface GenerationEngine {
    /**
     * @param modelDir an exported model folder
     * @param prompts  token ids per prompt (rows may differ in length; engines left pad them)
     * @param config   the request; engines reject options they do not support with a {@code StepwiseException}
     * @return per prompt, its sequences in order (one for greedy, {@code num_return_sequences} otherwise), each the
     *         prompt followed by the generated ids, ending with eos when eos ended it (no padding)
     */
    List<List<long[]>> generate(Path modelDir, List<long[]> prompts, GenerationConfig config);
}
