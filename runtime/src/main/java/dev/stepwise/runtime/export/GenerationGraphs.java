package dev.stepwise.runtime.export;

import dev.stepwise.runtime.checkpoint.WeightSource;
import dev.stepwise.runtime.generate.GenerationConfig;
import dev.stepwise.runtime.loop.LoopGraphBuilder;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.onnx.WeightSink;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.search.SearchGraphBuilder;
import dev.stepwise.runtime.search.SearchKind;
import dev.stepwise.runtime.search.SearchOptions;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Builds the whole-generation graphs an export was asked for, by file name, through the export's weight sink so they
 * share its weights file. Attributes the operators fix at build time (eos, pad, sampling settings) come from the
 * checkpoint's {@code generation_config.json}.
 */
final class GenerationGraphs {
    private GenerationGraphs() {
    }

    static Map<String, ModelProto> build(Set<GenerationGraph> graphs, Architecture architecture, ModelConfig config,
                                         WeightSource weights, WeightSink sink, int opset, Path checkpointDir) {
        Map<String, ModelProto> out = new LinkedHashMap<>();
        if (graphs.isEmpty()) {
            return out;
        }
        GenerationConfig defaults = GenerationConfig.Builder.fromModelDir(checkpointDir).build(1);
        for (GenerationGraph g : graphs) {
            switch (g) {
                case LOOP -> out.put(LoopGraphBuilder.FILE, LoopGraphBuilder.build(architecture, config, weights, sink, opset));
                case BEAM_SEARCH, GREEDY_SEARCH, SAMPLING -> {
                    SearchKind kind = SearchKind.fromCliName(g.cliName());
                    SearchOptions options = SearchOptions.from(defaults).withOpset(opset);
                    out.put(kind.fileName(), SearchGraphBuilder.build(kind, architecture, config, weights, sink, options));
                }
            }
        }
        return out;
    }
}
