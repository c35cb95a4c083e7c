package dev.stepwise.runtime.simplify;

import dev.stepwise.runtime.tensor.Argmax;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.ort.OrtSessions;
import dev.stepwise.runtime.ort.SharedWeights;
import dev.stepwise.runtime.ort.OrtTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Checks step graphs against the dynamic decoder they came from, in ONNX Runtime: both are run as a generation —
 * prefill on random (valid) ids, then one token per step, each feeding its own presents back as the next past — and
 * at every step the logits and presents must agree within tolerance and the greedy tokens must be the same.
 */
public final class StepChain {
    /** One step's comparison: max abs diff per output, and the greedy token of each row. */
    public record StepCheck(int step, Map<String, Double> maxAbsDiff, long[] tokens) {
    }

    private final DecoderSignature signature;
    private final int batch;
    private final int sequence;
    private final double rtol;
    private final double atol;
    private final int threads;

    public StepChain(DecoderSignature signature, int batch, int sequence, double rtol, double atol, int threads) {
        this.signature = signature;
        this.batch = batch;
        this.sequence = sequence;
        this.rtol = rtol;
        this.atol = atol;
        this.threads = threads;
    }

    /**
     * Runs {@code original} and the step files side by side. Throws a StepwiseException naming the step, output and
     * max abs diff at the first disagreement.
     */
    public List<StepCheck> verify(Path original, List<Path> steps, long vocab, long seed) {
        OrtEnvironment env = OrtSessions.environment();
        List<StepCheck> checks = new ArrayList<>();
        Random random = new Random(seed);
        long[] ids = new long[batch * sequence];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = vocab > 1 ? random.nextInt((int) Math.min(vocab, Integer.MAX_VALUE)) : 0;
        }
        Map<String, OnnxTensor> origPast = new HashMap<>();
        Map<String, OnnxTensor> stepPast = new HashMap<>();
        List<AutoCloseable> open = new ArrayList<>();
        // The original and the steps compute with memory maps of their weights files (the steps' one map shared):
        // two mapped copies in all, not a loaded and packed copy per session.
        try (SharedWeights weights = new SharedWeights();
             OrtSession orig = OrtSessions.open(original, threads, weights.initializers(OnnxModelReader.load(original)))) {
            OrtSession previous = null;
            for (int s = 0; s < steps.size(); s++) {
                int seqLen = s == 0 ? sequence : 1;
                int past = s == 0 ? 0 : sequence + s - 1;
                OrtSession stepSession = OrtSessions.open(steps.get(s), threads,
                        weights.initializers(OnnxModelReader.load(steps.get(s))));
                List<AutoCloseable> created = new ArrayList<>();
                try {
                    Map<String, OnnxTensor> origFeeds = feeds(env, orig, ids, seqLen, past, s, origPast, created);
                    Map<String, OnnxTensor> stepFeeds = feeds(env, stepSession, ids, seqLen, past, s, stepPast,
                            created);
                    OrtSession.Result origOut = orig.run(origFeeds);
                    OrtSession.Result stepOut;
                    try {
                        stepOut = stepSession.run(stepFeeds);
                    } catch (OrtException e) {
                        origOut.close();
                        throw new StepwiseException(steps.get(s).getFileName() + ": ONNX Runtime fails to run it: "
                                + firstLine(e.getMessage()), e);
                    }
                    Map<String, Double> diffs = new LinkedHashMap<>();
                    long[] tokens = compare(s, steps.get(s), origOut, stepOut, diffs);
                    checks.add(new StepCheck(s, diffs, tokens));
                    // hand the presents on as the next step's past
                    closeAll(open);
                    open.add(origOut);
                    open.add(stepOut);
                    origPast.clear();
                    stepPast.clear();
                    for (DecoderSignature.CachePair p : signature.cache()) {
                        origPast.put(p.past(), (OnnxTensor) origOut.get(p.present()).orElseThrow());
                        stepOut.get(p.present()).ifPresent(v -> stepPast.put(p.past(), (OnnxTensor) v));
                    }
                    ids = tokens;
                } finally {
                    closeAll(created);
                    if (previous != null) {
                        previous.close();
                    }
                    previous = stepSession;
                }
            }
            closeAll(open);
            if (previous != null) {
                previous.close();
            }
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed while verifying: " + firstLine(e.getMessage()), e);
        } finally {
            closeAll(open);
        }
        return checks;
    }

    private Map<String, OnnxTensor> feeds(OrtEnvironment env, OrtSession session, long[] ids, int seqLen, int past,
                                          int step, Map<String, OnnxTensor> previousPresents,
                                          List<AutoCloseable> created) throws OrtException {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
            String name = e.getKey();
            TensorInfo info = (TensorInfo) e.getValue().getInfo();
            DecoderSignature.Input in = signature.inputs().get(name);
            if (in == null) {
                throw new StepwiseException("input '" + name + "' of a step graph is not an input of the original");
            }
            OnnxTensor t;
            switch (in.role()) {
                case INPUT_IDS -> t = ints(env, in.elemType(), new long[] {batch, seqLen}, ids);
                case POSITION_IDS -> {
                    long[] pos = new long[batch * seqLen];
                    for (int i = 0; i < pos.length; i++) {
                        pos[i] = past + i % seqLen;
                    }
                    t = ints(env, in.elemType(), new long[] {batch, seqLen}, pos);
                }
                case ATTENTION_MASK -> t = mask(env, in, seqLen, past);
                case USE_CACHE_BRANCH -> t = OnnxTensor.createTensor(env, new boolean[] {step > 0});
                case PAST -> {
                    OnnxTensor prev = previousPresents.get(name);
                    if (prev != null) {
                        feeds.put(name, prev);
                        continue;
                    }
                    long[] dims = signature.dimsFor(batch, seqLen, past, "original").get(name);
                    t = zeros(env, in.elemType(), dims);
                }
                default -> throw new IllegalStateException();
            }
            if (info.getShape().length != 0 && info.getShape().length != t.getInfo().getShape().length) {
                t.close();
                throw new StepwiseException("input '" + name + "' has rank " + info.getShape().length);
            }
            created.add(t);
            feeds.put(name, t);
        }
        return feeds;
    }

    private OnnxTensor mask(OrtEnvironment env, DecoderSignature.Input in, int seqLen, int past) throws OrtException {
        long[] dims = signature.dimsFor(batch, seqLen, past, "original").get(in.name());
        int n = (int) count(dims);
        if (dims.length == 4) {
            // a causal [B, 1, M, M] mask (GPT-2 Megatron style): ones on and below the diagonal
            double[] v = new double[n];
            long m = dims[3];
            for (int i = 0; i < n; i++) {
                long col = i % m;
                long row = (i / m) % dims[2];
                v[i] = col <= row ? 1 : 0;
            }
            return floats(env, in.elemType(), dims, v);
        }
        long[] ones = new long[n];
        java.util.Arrays.fill(ones, 1);
        if (in.elemType() == DataType.FLOAT_VALUE || in.elemType() == DataType.FLOAT16_VALUE) {
            double[] v = new double[n];
            java.util.Arrays.fill(v, 1);
            return floats(env, in.elemType(), dims, v);
        }
        return ints(env, in.elemType(), dims, ones);
    }

    private long[] compare(int step, Path file, OrtSession.Result orig, OrtSession.Result got,
                           Map<String, Double> diffs) throws OrtException {
        long[] tokens = null;
        for (Map.Entry<String, OnnxValue> e : got) {
            String name = e.getKey();
            OnnxValue expectedValue = orig.get(name).orElse(null);
            if (expectedValue == null) {
                continue;
            }
            float[] want = OrtTensors.toHostFloats((OnnxTensor) expectedValue).floats();
            float[] have = OrtTensors.toHostFloats((OnnxTensor) e.getValue()).floats();
            long[] wantShape = ((OnnxTensor) expectedValue).getInfo().getShape();
            long[] haveShape = ((OnnxTensor) e.getValue()).getInfo().getShape();
            if (!java.util.Arrays.equals(wantShape, haveShape)) {
                throw new StepwiseException("step " + step + " (" + file.getFileName() + "): output '" + name
                        + "' has shape " + java.util.Arrays.toString(haveShape) + ", the original "
                        + java.util.Arrays.toString(wantShape));
            }
            double max = 0;
            boolean bad = false;
            for (int i = 0; i < want.length; i++) {
                double d = Math.abs((double) want[i] - have[i]);
                if (Double.isNaN(d) && !(Float.isNaN(want[i]) && Float.isNaN(have[i]))) {
                    d = Double.POSITIVE_INFINITY;
                } else if (Double.isNaN(d)) {
                    d = 0;
                }
                max = Math.max(max, d);
                if (d > atol + rtol * Math.abs(want[i])) {
                    bad = true;
                }
            }
            diffs.put(name, max);
            if (bad) {
                throw new StepwiseException(String.format("step %d (%s): output '%s' differs from the original by up to"
                        + " %.3e (rtol %.0e, atol %.0e)", step, file.getFileName(), name, max, rtol, atol));
            }
            if (name.equals(signature.logits())) {
                long[] a = argmaxLast(want, wantShape);
                long[] b = argmaxLast(have, haveShape);
                for (int r = 0; r < a.length; r++) {
                    if (a[r] != b[r] && Math.abs(want[lastIndex(wantShape, r, b[r])] - want[lastIndex(wantShape, r, a[r])])
                            > atol) {
                        throw new StepwiseException("step " + step + " (" + file.getFileName() + "): greedy token of"
                                + " row " + r + " is " + b[r] + ", the original's " + a[r]);
                    }
                }
                tokens = a;
            }
        }
        if (tokens == null) {
            throw new StepwiseException("step " + step + " (" + file.getFileName() + "): no output '"
                    + signature.logits() + "'");
        }
        return tokens;
    }

    /** Index of logits[row, last position, token] in the flat array. */
    private static int lastIndex(long[] shape, int row, long token) {
        long vocab = shape[shape.length - 1];
        long positions = shape.length == 3 ? shape[1] : 1;
        return (int) ((row * positions + positions - 1) * vocab + token);
    }

    private static long[] argmaxLast(float[] logits, long[] shape) {
        int rows = (int) shape[0];
        long vocab = shape[shape.length - 1];
        long[] out = new long[rows];
        for (int r = 0; r < rows; r++) {
            out[r] = Argmax.of(logits, lastIndex(shape, r, 0), (int) vocab);
        }
        return out;
    }

    // ---- tensors ----

    static OnnxTensor ints(OrtEnvironment env, int elemType, long[] dims, long[] values) throws OrtException {
        if (elemType == DataType.INT32_VALUE) {
            int[] v = new int[values.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = Math.toIntExact(values[i]);
            }
            return OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(v), dims);
        }
        if (elemType == DataType.INT64_VALUE) {
            return OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(values), dims);
        }
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = values[i];
        }
        return floats(env, elemType, dims, d);
    }

    static OnnxTensor floats(OrtEnvironment env, int elemType, long[] dims, double[] values) throws OrtException {
        int n = values.length;
        if (elemType == DataType.FLOAT16_VALUE) {
            ByteBuffer b = ByteBuffer.allocateDirect(n * 2).order(ByteOrder.nativeOrder());
            for (double v : values) {
                b.putShort(HalfFloats.floatToF16((float) v));
            }
            b.flip();
            return OnnxTensor.createTensor(env, b, dims, OnnxJavaType.FLOAT16);
        }
        if (elemType == DataType.FLOAT_VALUE) {
            ByteBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
            for (double v : values) {
                b.putFloat((float) v);
            }
            b.flip();
            return OnnxTensor.createTensor(env, b.asFloatBuffer(), dims);
        }
        if (elemType == DataType.INT64_VALUE || elemType == DataType.INT32_VALUE) {
            long[] l = new long[n];
            for (int i = 0; i < n; i++) {
                l[i] = (long) values[i];
            }
            return ints(env, elemType, dims, l);
        }
        throw new StepwiseException("cannot feed a tensor of element type " + elemType);
    }

    static OnnxTensor zeros(OrtEnvironment env, int elemType, long[] dims) throws OrtException {
        return floats(env, elemType, dims, new double[(int) count(dims)]);
    }

    private static long count(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    private static void closeAll(List<AutoCloseable> list) {
        for (AutoCloseable c : list) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing native memory does not fail in a way worth reporting here
            }
        }
        list.clear();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
