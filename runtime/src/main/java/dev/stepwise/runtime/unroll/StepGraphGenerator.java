package dev.stepwise.runtime.unroll;

import dev.stepwise.runtime.generate.FolderTokenIds;
import dev.stepwise.runtime.model.ModelFolder;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.Architecture;
import dev.stepwise.runtime.model.CacheDecl;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy generation through an unrolled folder: step graph s runs generation step s, its presents become the next
 * step's past. The batch must have exactly the unrolled batch size and its longest row the unrolled prompt length
 * (shorter rows are left-padded); at most as many tokens as there are step graphs.
 */
public final class StepGraphGenerator {
    private final Path dir;
    private final UnrollManifest manifest;
    private final Architecture architecture;
    private final ModelConfig config;

    public StepGraphGenerator(Path dir, UnrollManifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
        ModelFolder folder = ModelFolder.read(dir);
        this.architecture = folder.architecture();
        this.config = folder.config();
    }

    public List<long[]> greedy(List<long[]> prompts, int maxNewTokens) {
        int batch = manifest.batch();
        int length = manifest.sequence();
        if (prompts.size() != batch) {
            throw new StepwiseException(dir + ": unrolled for batch size " + batch + ", got " + prompts.size() + " prompt rows");
        }
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        if (longest != length) {
            throw new StepwiseException(dir + ": unrolled for prompt length " + length + ", the longest prompt row has "
                    + longest + " tokens (shorter rows are left-padded; the longest must match)");
        }
        if (maxNewTokens > manifest.steps().size()) {
            throw new StepwiseException(dir + ": has " + manifest.steps().size() + " step graphs, so at most "
                    + manifest.steps().size() + " new tokens; asked for " + maxNewTokens);
        }
        // The same eos/pad as every other engine: generation_config.json first, then config.json.
        FolderTokenIds tokenIds = FolderTokenIds.read(dir, config);
        long pad = tokenIds.pad();
        java.util.Set<Long> eos = new java.util.HashSet<>(tokenIds.eos());
        long[] ids = new long[batch * length];
        long[] mask = new long[batch * length];
        long[] positions = new long[batch * length];
        long[] nextPosition = new long[batch];
        for (int b = 0; b < batch; b++) {
            long[] p = prompts.get(b);
            int padding = length - p.length;
            for (int t = 0; t < length; t++) {
                boolean real = t >= padding;
                ids[b * length + t] = real ? p[t - padding] : pad;
                mask[b * length + t] = real ? 1 : 0;
                positions[b * length + t] = real ? t - padding : 1;
            }
            nextPosition[b] = p.length;
        }
        HostTensor idsT = HostTensor.ofLongs(ids, batch, length);
        HostTensor maskT = HostTensor.ofLongs(mask, batch, length);
        HostTensor posT = HostTensor.ofLongs(positions, batch, length);
        Map<String, HostTensor> past = new HashMap<>();
        CacheDecl cache = architecture.spec().cache();
        String logitsName = architecture.spec().outputs().get(0).name();

        List<List<Long>> generated = new ArrayList<>();
        boolean[] finished = new boolean[batch];
        for (int b = 0; b < batch; b++) {
            generated.add(new ArrayList<>());
        }
        for (int s = 0; s < maxNewTokens; s++) {
            GenStep step = manifest.steps().get(s);
            Map<String, HostTensor> in = new HashMap<>(past);
            in.put("input_ids", idsT);
            in.put("attention_mask", maskT);
            in.put("position_ids", posT);
            Map<String, HostTensor> out;
            try (OrtSession session = OrtSessions.open(dir.resolve(step.fileName()), 0)) {
                out = OrtRunner.run(session, in);
            } catch (OrtException e) {
                throw new StepwiseException(dir.resolve(step.fileName()) + ": " + e.getMessage(), e);
            }
            long[] tokens = StepChainValidator.lastTokens(out.get(logitsName));
            for (int b = 0; b < batch; b++) {
                if (finished[b]) {
                    tokens[b] = pad;
                } else {
                    generated.get(b).add(tokens[b]);
                    finished[b] = eos.contains(tokens[b]);
                }
            }
            boolean all = true;
            for (boolean f : finished) {
                all &= f;
            }
            if (all) {
                break;
            }
            past.clear();
            for (int l = 0; l < config.numLayers(); l++) {
                past.put(cache.pastName(l, "key"), out.get(cache.presentName(l, "key")));
                past.put(cache.pastName(l, "value"), out.get(cache.presentName(l, "value")));
            }
            idsT = HostTensor.ofLongs(tokens, batch, 1);
            long[] pos = new long[batch];
            for (int b = 0; b < batch; b++) {
                pos[b] = nextPosition[b]++;
            }
            posT = HostTensor.ofLongs(pos, batch, 1);
            maskT = StepChainValidator.appendOnes(maskT);
        }
        List<long[]> rows = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] p = prompts.get(b);
            long[] row = java.util.Arrays.copyOf(p, p.length + generated.get(b).size());
            for (int i = 0; i < generated.get(b).size(); i++) {
                row[p.length + i] = generated.get(b).get(i);
            }
            rows.add(row);
        }
        return rows;
    }
}
