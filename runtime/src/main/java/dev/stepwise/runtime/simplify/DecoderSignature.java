package dev.stepwise.runtime.simplify;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorShapeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The roles of a foreign dynamic decoder's inputs and outputs: token ids, attention mask, position ids, the
 * past/present pairs of the KV cache (with the axis that grows), and the merged-decoder switch
 * {@code use_cache_branch}. Read off names and shapes, the way optimum and onnxruntime's tools name them
 * ({@code past_key_values.0.key} / {@code present.0.key}, {@code past_0} / {@code present_0}).
 */
public final class DecoderSignature {
    /** What an input is for. */
    public enum Role {
        INPUT_IDS, ATTENTION_MASK, POSITION_IDS, PAST, USE_CACHE_BRANCH,
        /** A seq2seq decoder's {@code encoder_hidden_states}: the encoder's output (empty once the cross cache is made). */
        ENCODER_HIDDEN_STATES,
        /** A seq2seq decoder's {@code encoder_attention_mask}: the encoder's padding mask. */
        ENCODER_ATTENTION_MASK;

        /** The role of a graph input: its name is the role's in lower case, except the past's ({@code past*}). */
        static Role of(String inputName) {
            if (inputName.startsWith("past")) {
                return PAST;
            }
            for (Role r : values()) {
                if (r != PAST && r.name().toLowerCase(Locale.ROOT).equals(inputName)) {
                    return r;
                }
            }
            return null;
        }
    }

    /** One graph input: declared element type and dims (a Long when fixed, a String dim_param, null unknown). */
    public record Input(String name, Role role, int elemType, List<Object> dims) {
        public int rank() {
            return dims.size();
        }
    }

    /** A KV-cache pair: the past input, the present output that feeds it next step, the growing axis. */
    public record CachePair(String past, String present, int lengthAxis) {
    }

    private final Map<String, Input> inputs;
    private final List<CachePair> cache;
    private final String logits;
    private final String batchParam;

    private DecoderSignature(Map<String, Input> inputs, List<CachePair> cache, String logits, String batchParam) {
        this.inputs = inputs;
        this.cache = cache;
        this.logits = logits;
        this.batchParam = batchParam;
    }

    public Map<String, Input> inputs() {
        return Collections.unmodifiableMap(inputs);
    }

    public List<CachePair> cache() {
        return Collections.unmodifiableList(cache);
    }

    public String logits() {
        return logits;
    }

    public Input input(Role role) {
        for (Input in : inputs.values()) {
            if (in.role() == role) {
                return in;
            }
        }
        return null;
    }

    /** Reads the roles; a graph that is not a decoder with a KV cache is a one-line error naming what is missing. */
    public static DecoderSignature of(GraphProto graph, String file) {
        Map<String, Input> inputs = new LinkedHashMap<>();
        List<String> pastNames = new ArrayList<>();
        for (ValueInfoProto v : graph.getInputList()) {
            if (!v.getType().hasTensorType()) {
                throw new StepwiseException(file + ": input '" + v.getName() + "' is not a tensor");
            }
            String name = v.getName();
            Role role = Role.of(name);
            if (role == null) {
                throw new StepwiseException(file + ": input '" + name + "' is not one a decoder step can be fed"
                        + " (expected input_ids, attention_mask, position_ids, past_key_values.*, use_cache_branch,"
                        + " encoder_hidden_states, encoder_attention_mask)");
            }
            if (role == Role.PAST) {
                pastNames.add(name);
            }
            inputs.put(name, new Input(name, role, v.getType().getTensorType().getElemType(), dims(v)));
        }
        Input ids = inputs.get("input_ids");
        if (ids == null) {
            throw new StepwiseException(file + ": no input 'input_ids'; not a text-generation decoder");
        }
        if (ids.rank() != 2) {
            throw new StepwiseException(file + ": input 'input_ids' has rank " + ids.rank() + ", expected 2");
        }
        if (pastNames.isEmpty()) {
            throw new StepwiseException(file + ": no past inputs (past_key_values.*); simplify needs a decoder with a"
                    + " KV cache");
        }
        String batchParam = ids.dims().get(0) instanceof String s ? s : null;
        Set<String> outputs = new HashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        List<CachePair> cache = new ArrayList<>();
        Set<String> presents = new HashSet<>();
        for (String past : pastNames) {
            String present = presentFor(past, outputs);
            if (present == null) {
                throw new StepwiseException(file + ": past input '" + past + "' has no matching present output"
                        + " (tried " + String.join(", ", presentCandidates(past)) + ")");
            }
            presents.add(present);
            cache.add(new CachePair(past, present, lengthAxis(inputs.get(past), batchParam, file)));
        }
        String logits = outputs.contains("logits") ? "logits" : null;
        if (logits == null) {
            for (ValueInfoProto o : graph.getOutputList()) {
                if (!presents.contains(o.getName())) {
                    logits = o.getName();
                    break;
                }
            }
        }
        if (logits == null) {
            throw new StepwiseException(file + ": no logits output");
        }
        return new DecoderSignature(inputs, cache, logits, batchParam);
    }

    private static List<Object> dims(ValueInfoProto v) {
        List<Object> out = new ArrayList<>();
        if (!v.getType().getTensorType().hasShape()) {
            return out;
        }
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
            out.add(d.hasDimValue() ? (Object) d.getDimValue() : d.hasDimParam() ? d.getDimParam() : null);
        }
        return out;
    }

    private static List<String> presentCandidates(String past) {
        List<String> c = new ArrayList<>();
        c.add(past.replace("past_key_values", "present"));
        c.add(past.replace("past_key_values", "present_key_values"));
        c.add(past.replaceFirst("^past", "present"));
        return c;
    }

    private static String presentFor(String past, Set<String> outputs) {
        for (String c : presentCandidates(past)) {
            if (outputs.contains(c)) {
                return c;
            }
        }
        return null;
    }

    /** The one symbolic axis of a past input that is not the batch. */
    private static int lengthAxis(Input past, String batchParam, String file) {
        int axis = -1;
        for (int i = 0; i < past.rank(); i++) {
            Object d = past.dims().get(i);
            if (d instanceof Long) {
                continue;
            }
            if (d instanceof String s && s.equals(batchParam)) {
                continue;
            }
            if (axis >= 0) {
                throw new StepwiseException(file + ": past input '" + past.name() + "' has more than one dynamic axis"
                        + " besides the batch (" + past.dims() + "); cannot tell which one is the past length");
            }
            axis = i;
        }
        if (axis < 0) {
            throw new StepwiseException(file + ": past input '" + past.name() + "' has no dynamic past-length axis "
                    + past.dims());
        }
        return axis;
    }

    /**
     * The fixed dims of every input for one step: batch B, S new tokens after a past of P. Dim names shared by
     * several inputs must agree; a fixed dim that does not fit is an error.
     */
    public Map<String, long[]> dimsFor(long batch, long sequence, long past, String file) {
        return dimsFor(batch, sequence, past, 0, file);
    }

    /**
     * As above for a seq2seq decoder whose encoder ran on {@code encoderLength} positions (its
     * {@code encoder_attention_mask}); {@code encoder_hidden_states} has no entry, it is the encoder's output.
     */
    public Map<String, long[]> dimsFor(long batch, long sequence, long past, long encoderLength, String file) {
        Map<String, long[]> out = new LinkedHashMap<>();
        Map<String, Long> params = new HashMap<>();
        for (Input in : inputs.values()) {
            if (in.role() == Role.ENCODER_HIDDEN_STATES) {
                continue;
            }
            long[] want = new long[in.rank()];
            for (int i = 0; i < in.rank(); i++) {
                want[i] = -1;
            }
            switch (in.role()) {
                case INPUT_IDS, POSITION_IDS -> {
                    expectRank(in, 2, file);
                    want[0] = batch;
                    want[1] = sequence;
                }
                case ATTENTION_MASK -> {
                    want[0] = batch;
                    if (in.rank() == 2) {
                        want[1] = past + sequence;
                    } else if (in.rank() == 3) {
                        want[1] = sequence;
                        want[2] = past + sequence;
                    }
                }
                case PAST -> {
                    int axis = cacheFor(in.name()).lengthAxis();
                    want[axis] = past;
                    for (int i = 0; i < in.rank(); i++) {
                        if (batchParam != null && batchParam.equals(in.dims().get(i))) {
                            want[i] = batch;
                        }
                    }
                }
                case USE_CACHE_BRANCH -> {
                    for (int i = 0; i < in.rank(); i++) {
                        want[i] = 1;
                    }
                }
                case ENCODER_ATTENTION_MASK -> {
                    expectRank(in, 2, file);
                    want[0] = batch;
                    want[1] = encoderLength;
                }
                default -> throw new IllegalStateException();
            }
            long[] dims = new long[in.rank()];
            for (int i = 0; i < in.rank(); i++) {
                Object declared = in.dims().get(i);
                if (declared instanceof Long fixed) {
                    if (want[i] >= 0 && want[i] != fixed) {
                        throw new StepwiseException(file + ": input '" + in.name() + "' has a fixed dim " + fixed
                                + " on axis " + i + " but this step needs " + want[i]
                                + "; that shape cannot be made static");
                    }
                    dims[i] = fixed;
                } else if (want[i] >= 0) {
                    dims[i] = want[i];
                    if (declared instanceof String p) {
                        Long prev = params.putIfAbsent(p, want[i]);
                        if (prev != null && prev != want[i]) {
                            throw new StepwiseException(file + ": dim '" + p + "' would be both " + prev + " and "
                                    + want[i] + " (input '" + in.name() + "'); the inputs do not agree");
                        }
                    }
                } else {
                    throw new StepwiseException(file + ": input '" + in.name() + "' axis " + i + " ("
                            + (declared == null ? "unnamed" : declared) + ") has no size Stepwise can derive;"
                            + " that shape cannot be made static");
                }
            }
            out.put(in.name(), dims);
        }
        return out;
    }

    private CachePair cacheFor(String past) {
        for (CachePair p : cache) {
            if (p.past().equals(past)) {
                return p;
            }
        }
        throw new IllegalStateException(past);
    }

    private static void expectRank(Input in, int rank, String file) {
        if (in.rank() != rank) {
            throw new StepwiseException(file + ": input '" + in.name() + "' has rank " + in.rank() + ", expected "
                    + rank);
        }
    }

    static boolean isBool(Input in) {
        return in.elemType() == DataType.BOOL_VALUE;
    }
}
