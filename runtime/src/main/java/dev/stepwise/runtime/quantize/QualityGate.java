package dev.stepwise.runtime.quantize;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.gson.JsonElement;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.model.ModelConfig;
import dev.stepwise.runtime.ort.OrtRunner;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.tensor.Argmax;
import dev.stepwise.runtime.tensor.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a float model and its quantized counterpart in ONNX Runtime on the same inputs and measures how far apart they
 * are, like the export's validation: for a decoder ({@code input_ids} in, {@code logits} out) the next-token argmax
 * agreement, the mean KL divergence KL(float ‖ quantized) of the next-token distributions and the largest |logit
 * difference| over every position; for an encoder the cosine similarity of the mean-pooled, L2-normalised first
 * rank-3 output. A graph it cannot feed (loop and search graphs, decode steps with a past) is only loaded.
 */
final class QualityGate {
    /** A seq2seq decoder's inputs besides input_ids and attention_mask: the encoder's output and mask. */
    static final String ENCODER_STATES = "encoder_hidden_states";
    static final String ENCODER_MASK = "encoder_attention_mask";
    /** The kind of a decoder reading an encoder's output; its figures are a decoder's. */
    static final String SEQ2SEQ_DECODER = "seq2seq-decoder";

    private final QuantizeOptions options;
    private final Path originalEncoder;
    private final Path quantizedEncoder;

    QualityGate(QuantizeOptions options) {
        this(options, null, null);
    }

    /**
     * With the encoder of a seq2seq set, float and quantized: a decoder reading {@code encoder_hidden_states} is then
     * run on the eval inputs too, the float decoder fed the float encoder's output for each input and the quantized
     * decoder the quantized encoder's, so its figures are those of the quantized pipeline against the float one.
     */
    QualityGate(QuantizeOptions options, Path originalEncoder, Path quantizedEncoder) {
        this.options = options;
        this.originalEncoder = originalEncoder;
        this.quantizedEncoder = quantizedEncoder;
    }

    QualityFigures compare(Path original, Path quantized, Path tokenizerDir) {
        String name = quantized.getFileName().toString();
        try (OrtSession q = OrtSessions.open(quantized, options.threads())) {
            String kind = kind(q);
            if (kind.equals(SEQ2SEQ_DECODER) && options.gate() && originalEncoder != null) {
                return seq2seq(name, original, q, tokenizerDir);
            }
            if (kind.equals("loaded") || kind.equals(SEQ2SEQ_DECODER) || !options.gate()) {
                return QualityFigures.loaded(name);
            }
            List<long[]> rows = EvalInputs.rows(options.eval(), kind, tokenizerDir);
            try (OrtSession f = OrtSessions.open(original, options.threads())) {
                return kind.equals("decoder") ? decoder(name, f, q, rows) : encoder(name, f, q, rows);
            }
        } catch (OrtException e) {
            throw new StepwiseException(quantized + ": ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    /**
     * An unrolled folder's whole step chain, float against quantized, next-token logits at every step; {@link
     * #compare} alone can only load the steps after 0, which take a past.
     */
    StepChainGate.ChainFigures compareChain(Path floatDir, Path quantizedDir) {
        return new StepChainGate(options).compare(floatDir, quantizedDir, floatDir);
    }

    /** decoder, encoder or loaded, from the graph's inputs and outputs. */
    static String kind(OrtSession s) throws OrtException {
        Map<String, NodeInfo> in = s.getInputInfo();
        if (!in.containsKey("input_ids")) {
            return "loaded";
        }
        boolean seq2seq = in.containsKey(ENCODER_STATES);
        for (Map.Entry<String, NodeInfo> e : in.entrySet()) {
            String n = e.getKey();
            boolean known = n.equals("input_ids") || n.equals("attention_mask") || n.equals("position_ids")
                    || n.equals("token_type_ids") || n.startsWith("past_key_values.") && pastLength(e.getValue()) <= 0
                    || seq2seq && (n.equals(ENCODER_STATES) || n.equals(ENCODER_MASK));
            if (!known) {
                return "loaded";
            }
        }
        if (s.getOutputInfo().containsKey("logits")) {
            return seq2seq ? SEQ2SEQ_DECODER : "decoder";
        }
        if (seq2seq) {
            return "loaded";
        }
        return firstRank3(s) != null ? "encoder" : "loaded";
    }

    /**
     * As {@link #kind(OrtSession)}, from the graph itself (before anything runs): its non-initializer inputs and
     * typed outputs.
     */
    static String kind(dev.stepwise.runtime.onnx.proto.Onnx.GraphProto g) {
        java.util.Set<String> inits = new java.util.HashSet<>();
        g.getInitializerList().forEach(t -> inits.add(t.getName()));
        boolean ids = false;
        boolean seq2seq = g.getInputList().stream().anyMatch(v -> v.getName().equals(ENCODER_STATES));
        for (var v : g.getInputList()) {
            String n = v.getName();
            if (inits.contains(n)) {
                continue;
            }
            var dims = v.getType().getTensorType().getShape().getDimList();
            boolean emptyPast = n.startsWith("past_key_values.") && dims.size() == 4 && !dims.get(2).hasDimValue();
            if (!(n.equals("input_ids") || n.equals("attention_mask") || n.equals("position_ids")
                    || n.equals("token_type_ids") || emptyPast
                    || seq2seq && (n.equals(ENCODER_STATES) || n.equals(ENCODER_MASK)))) {
                return "loaded";
            }
            ids |= n.equals("input_ids");
        }
        if (!ids) {
            return "loaded";
        }
        if (g.getOutputList().stream().anyMatch(o -> o.getName().equals("logits"))) {
            return seq2seq ? SEQ2SEQ_DECODER : "decoder";
        }
        return seq2seq ? "loaded" : g.getOutputList().stream().anyMatch(o -> o.getType().getTensorType().hasShape()
                && o.getType().getTensorType().getShape().getDimCount() == 3) ? "encoder" : "loaded";
    }

    private static long pastLength(NodeInfo info) {
        long[] shape = ((TensorInfo) info.getInfo()).getShape();
        return shape.length == 4 ? shape[2] : 1;
    }

    private static String firstRank3(OrtSession s) throws OrtException {
        for (Map.Entry<String, NodeInfo> e : s.getOutputInfo().entrySet()) {
            if (e.getValue().getInfo() instanceof TensorInfo t && t.getShape().length == 3) {
                return e.getKey();
            }
        }
        return null;
    }

    /** Inputs for one batch of id rows (all the same length), mask all ones, positions 0..n-1, empty past. */
    static Map<String, HostTensor> feed(OrtSession s, long[][] batch) throws OrtException {
        int b = batch.length;
        int n = batch[0].length;
        long[] ids = new long[b * n];
        long[] ones = new long[b * n];
        long[] positions = new long[b * n];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < n; j++) {
                ids[i * n + j] = batch[i][j];
                ones[i * n + j] = 1;
                positions[i * n + j] = j;
            }
        }
        Map<String, HostTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : s.getInputInfo().entrySet()) {
            String k = e.getKey();
            switch (k) {
                case "input_ids" -> in.put(k, HostTensor.ofLongs(ids, b, n));
                case "attention_mask" -> in.put(k, HostTensor.ofLongs(ones, b, n));
                case "position_ids" -> in.put(k, HostTensor.ofLongs(positions, b, n));
                case "token_type_ids" -> in.put(k, HostTensor.ofLongs(new long[b * n], b, n));
                case ENCODER_STATES, ENCODER_MASK -> {
                    // seq2seqFeed puts the encoder's output and mask
                }
                default -> {
                    long[] shape = ((TensorInfo) e.getValue().getInfo()).getShape().clone();
                    shape[0] = b;
                    shape[2] = 0;
                    in.put(k, HostTensor.ofFloats(new float[0], shape));
                }
            }
        }
        return in;
    }

    /** Batches of rows the graph accepts: one row each, or windows of its fixed [B, L] when input_ids is static. */
    static List<long[][]> batches(OrtSession s, List<long[]> rows) throws OrtException {
        long[] shape = ((TensorInfo) s.getInputInfo().get("input_ids").getInfo()).getShape();
        List<long[][]> batches = new ArrayList<>();
        if (shape[0] <= 0 && shape[1] <= 0) {
            rows.stream().filter(r -> r.length > 0).forEach(r -> batches.add(new long[][] {r}));
            return batches;
        }
        int b = (int) Math.max(1, shape[0]);
        int l = (int) shape[1];
        List<long[]> windows = new ArrayList<>();
        for (long[] r : rows) {
            for (int at = 0; l > 0 && at + l <= r.length; at += l) {
                windows.add(Arrays.copyOfRange(r, at, at + l));
            }
        }
        for (int i = 0; i + b <= windows.size(); i += b) {
            batches.add(windows.subList(i, i + b).toArray(long[][]::new));
        }
        if (batches.isEmpty()) {
            throw new StepwiseException(s + ": no evaluation row is long enough for input_ids " + Arrays.toString(shape));
        }
        return batches;
    }

    private QualityFigures decoder(String name, OrtSession f, OrtSession q, List<long[]> rows) throws OrtException {
        List<Map<String, HostTensor>[]> feeds = new ArrayList<>();
        for (long[][] batch : batches(q, rows)) {
            feeds.add(pair(feed(f, batch), feed(q, batch)));
        }
        return compareLogits(name, f, q, feeds);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, HostTensor>[] pair(Map<String, HostTensor> a, Map<String, HostTensor> b) {
        return new Map[] {a, b};
    }

    /**
     * A seq2seq decoder: for each eval input (the encoder's, one row at a time) the float and the quantized encoder
     * run; the float pipeline then decodes greedily from {@code decoder_start_token_id} (the folder's config.json) for
     * the row's length + 1 tokens, and both decoders are fed that sequence, each with its own encoder's {@code
     * last_hidden_state} and an all-ones mask: the figures compare next-token distributions at every position of the
     * path generation takes. Without a start id (no config.json), the decoders are fed the input ids themselves.
     */
    private QualityFigures seq2seq(String name, Path original, OrtSession q, Path tokenizerDir) throws OrtException {
        List<long[]> rows = EvalInputs.rows(options.eval(), "encoder", tokenizerDir);
        Long start = decoderStart(tokenizerDir);
        try (OrtSession f = OrtSessions.open(original, options.threads());
             OrtSession fe = OrtSessions.open(originalEncoder, options.threads());
             OrtSession qe = OrtSessions.open(quantizedEncoder, options.threads())) {
            String states = firstRank3(fe);
            List<Map<String, HostTensor>[]> feeds = new ArrayList<>();
            for (long[][] batch : batches(fe, rows)) {
                HostTensor a = OrtRunner.run(fe, feed(fe, batch)).get(states);
                HostTensor b = OrtRunner.run(qe, feed(qe, batch)).get(firstRank3(qe));
                long[][] decoded = start == null ? batch : greedyPath(f, a, start, batch[0].length + 1);
                feeds.add(pair(seq2seqFeed(f, decoded, a), seq2seqFeed(q, decoded, b)));
            }
            return compareLogits(name, f, q, feeds);
        }
    }

    /** The float decoder's own greedy sequence (start id first, {@code length} ids), recomputed without a past. */
    private static long[][] greedyPath(OrtSession decoder, HostTensor states, long start, int length)
            throws OrtException {
        long[] ids = {start};
        while (ids.length < length) {
            HostTensor logits = OrtRunner.run(decoder, seq2seqFeed(decoder, new long[][] {ids}, states)).get("logits");
            int vocab = (int) logits.dim(2);
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = Argmax.of(logits.floats(), (ids.length - 2) * vocab, vocab);
        }
        return new long[][] {ids};
    }

    /** {@code decoder_start_token_id} of the folder's config.json, or null when there is none. */
    private static Long decoderStart(Path folder) {
        Path config = folder == null ? null : folder.resolve("config.json");
        if (config == null || !Files.isRegularFile(config)) {
            return null;
        }
        JsonElement id = ModelConfig.readJson(config).get("decoder_start_token_id");
        return id == null || id.isJsonNull() ? null : id.getAsLong();
    }

    private static Map<String, HostTensor> seq2seqFeed(OrtSession s, long[][] batch, HostTensor states)
            throws OrtException {
        Map<String, HostTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : feed(s, batch).entrySet()) {
            if (!e.getKey().equals(ENCODER_STATES) && !e.getKey().equals(ENCODER_MASK)) {
                in.put(e.getKey(), e.getValue());
            }
        }
        in.put(ENCODER_STATES, states);
        if (s.getInputInfo().containsKey(ENCODER_MASK)) {
            long[] ones = new long[(int) (states.dim(0) * states.dim(1))];
            java.util.Arrays.fill(ones, 1);
            in.put(ENCODER_MASK, HostTensor.ofLongs(ones, states.dim(0), states.dim(1)));
        }
        return in;
    }

    private QualityFigures compareLogits(String name, OrtSession f, OrtSession q, List<Map<String, HostTensor>[]> feeds)
            throws OrtException {
        int positions = 0;
        int agreed = 0;
        double kl = 0;
        double maxDiff = 0;
        for (Map<String, HostTensor>[] feed : feeds) {
            HostTensor a = OrtRunner.run(f, feed[0]).get("logits");
            HostTensor b = OrtRunner.run(q, feed[1]).get("logits");
            int vocab = (int) a.dim(a.shape().length - 1);
            int count = a.floats().length / vocab;
            for (int p = 0; p < count; p++) {
                int off = p * vocab;
                agreed += Argmax.of(a.floats(), off, vocab) == Argmax.of(b.floats(), off, vocab) ? 1 : 0;
                kl += klDivergence(a.floats(), b.floats(), off, vocab);
                for (int v = 0; v < vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(a.floats()[off + v] - b.floats()[off + v]));
                }
            }
            positions += count;
        }
        double top1 = positions == 0 ? 1 : (double) agreed / positions;
        double meanKl = positions == 0 ? 0 : kl / positions;
        boolean passed = top1 >= options.minTop1() && meanKl <= options.maxKl();
        return new QualityFigures(name, "decoder", positions, top1, meanKl, maxDiff, Double.NaN, Double.NaN, passed);
    }

    private QualityFigures encoder(String name, OrtSession f, OrtSession q, List<long[]> rows) throws OrtException {
        String output = firstRank3(q);
        double sum = 0;
        double min = 1;
        int n = 0;
        for (long[][] batch : batches(q, rows)) {
            float[] a = meanPooled(OrtRunner.run(f, feed(f, batch)).get(output));
            float[] b = meanPooled(OrtRunner.run(q, feed(q, batch)).get(output));
            double c = 0;
            for (int i = 0; i < a.length; i++) {
                c += (double) a[i] * b[i];
            }
            sum += c;
            min = Math.min(min, c);
            n++;
        }
        double mean = n == 0 ? 1 : sum / n;
        return new QualityFigures(name, "encoder", n, Double.NaN, Double.NaN, Double.NaN, mean, min,
                mean >= options.minCosine());
    }

    /** The mean over positions of a [1, S, H] output (the mask is all ones), L2-normalised. */
    static float[] meanPooled(HostTensor t) {
        int s = (int) t.dim(1);
        int h = (int) t.dim(2);
        float[] v = new float[h];
        double norm = 0;
        for (int j = 0; j < h; j++) {
            double acc = 0;
            for (int i = 0; i < s; i++) {
                acc += t.floats()[i * h + j];
            }
            v[j] = (float) (acc / s);
            norm += (double) v[j] * v[j];
        }
        double scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
        for (int j = 0; j < h; j++) {
            v[j] = (float) (v[j] * scale);
        }
        return v;
    }

    /** KL(softmax(p) ‖ softmax(q)) in nats, from logits, in double. */
    static double klDivergence(float[] p, float[] q, int off, int n) {
        double pm = Double.NEGATIVE_INFINITY;
        double qm = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            pm = Math.max(pm, p[off + i]);
            qm = Math.max(qm, q[off + i]);
        }
        double ps = 0;
        double qs = 0;
        for (int i = 0; i < n; i++) {
            ps += Math.exp(p[off + i] - pm);
            qs += Math.exp(q[off + i] - qm);
        }
        double pl = Math.log(ps);
        double ql = Math.log(qs);
        double kl = 0;
        for (int i = 0; i < n; i++) {
            double lp = p[off + i] - pm - pl;
            double lq = q[off + i] - qm - ql;
            kl += Math.exp(lp) * (lp - lq);
        }
        return Math.max(0, kl);
    }
}
