package dev.stepwise.runtime.generate;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtSession;
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.model.ArchitectureSpec;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The ONNX Runtime sessions a KV-cache decoding run calls, one per run: the prefill is run 0, each decode step one
 * more. A dynamic decoder ({@link ExportedModel}) answers every run with its one session; an unrolled folder answers
 * run {@code s} with step graph {@code s}. Everything else (inputs, cache hand-over, pinned logits, beam reordering)
 * is the one decoding run both share. Implementations are thread-safe.
 */
public interface DecoderGraphs extends StepModelSource, AutoCloseable {
    /** Closes the sessions; generations still running on them fail. */
    @Override
    void close();

    /** The session for run {@code run} (0 = the prefill). */
    OrtSession session(int run);

    /** The folder, for messages. */
    Path dir();

    /** Cache names and axes. */
    CacheDecl cache();

    /** Sizes the cache axes are resolved with. */
    ModelConfig config();

    /** Element type of past and present ({@code FLOAT} or {@code FLOAT16}). */
    OnnxJavaType cacheType();

    /** Element type of an id input ({@code input_ids}, {@code attention_mask}, {@code position_ids}). */
    DType inputType(String name);

    /** True when the prefill takes a zero-length past (a dynamic decoder); false when it has no past inputs. */
    boolean prefillTakesPast();

    /**
     * The length prompts are left padded to for the prefill: the longest prompt for a dynamic decoder, the prompt
     * length a static graph was built for.
     */
    default int prefillLength(int longestPrompt) {
        return longestPrompt;
    }

    /** True when run {@code run}'s logits hold only the last position ({@code [batch, 1, vocab]}). */
    boolean lastLogitsOnly(int run);

    String logitsName();

    /** {@code FLOAT}, or {@code FLOAT16} for an fp16 graph. */
    OnnxJavaType logitsType();

    /** The logits' last axis. */
    int vocab();

    /** Every present output's name. */
    Set<String> presentNames();

    /** Every present output's name for {@code layers} layers of {@code cache}, in the graph's order. */
    static Set<String> presentNames(CacheDecl cache, int layers) {
        Set<String> names = new LinkedHashSet<>();
        for (int l = 0; l < layers; l++) {
            names.add(cache.presentName(l, "key"));
            names.add(cache.presentName(l, "value"));
        }
        return Collections.unmodifiableSet(names);
    }

    /** The declared element type of each input of {@code spec}, by name. */
    static Map<String, DType> inputTypes(ArchitectureSpec spec) {
        Map<String, DType> types = new HashMap<>();
        spec.inputs().forEach(d -> types.put(d.name(), d.type()));
        return Map.copyOf(types);
    }

    /** A decoding run on these graphs: the prompts fed, the KV cache kept in ONNX Runtime tensors. */
    @Override
    default StepModel start(List<long[]> rows, long pad, boolean reorderable) {
        int longest = rows.stream().mapToInt(p -> p.length).max().orElse(0);
        return KvDecoding.start(new DecoderRun(this, reorderable, rows.size()), rows, prefillLength(longest), pad);
    }
}
