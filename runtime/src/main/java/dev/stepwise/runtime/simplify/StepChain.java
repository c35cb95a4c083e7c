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
import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.generate.DecoderStep;
import dev.stepwise.runtime.generate.KvDecoding;
import dev.stepwise.runtime.generate.PromptRows;
import dev.stepwise.runtime.generate.StepIds;
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
 * The chained-step check of step graphs (those {@code simplify} writes from a foreign decoder and those {@code unroll}
 * traces) against the dynamic decoder they came from, in ONNX Runtime: both are run as one greedy generation through
 * the {@link KvDecoding} every engine decodes with — prefill on the given prompts (left padded), then one token per
 * step, the original's greedy token fed to both — each side feeding its own presents back as its next past. Every
 * step records the max abs difference of each output the two share (logits, presents) and whether the greedy tokens
 * agree; a step graph that keeps only the last position's logits is compared there. Inputs are fed by role
 * ({@link DecoderSignature}), in each graph's own names, dims and element types.
 *
 * <p>A seq2seq chain ({@link #checkSeq2Seq}) first runs both encoders on the same right-padded inputs and compares
 * their outputs; each decoder is then fed its own encoder's output at step 0 (an empty one after it, where the graph
 * still takes it), and a step graph that does not output the cross-attention cache again keeps the one it made.
 */
public final class StepChain {
    /**
     * One step's comparison.
     *
     * @param maxAbsDiff  max abs difference per output the two graphs share
     * @param outOfRange  the first output beyond {@code atol + rtol·|original|}, or null
     * @param tokens      the original's greedy token of each row (fed to both at the next step)
     * @param tokensAgree whether the step graph's greedy tokens are the same, up to ties within atol
     * @param tokenReport for a disagreement, which row chose what
     */
    public record StepCheck(int step, Map<String, Double> maxAbsDiff, String outOfRange, long[] tokens,
                            boolean tokensAgree, String tokenReport) {
        /** Within tolerance and the same greedy tokens. */
        public boolean passed() {
            return outOfRange == null && tokensAgree;
        }
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
     * {@code simplify}'s check: random ids (seeded) in full rows. Throws a StepwiseException naming the step, output
     * and max abs diff at the first disagreement.
     */
    public List<StepCheck> verify(Path original, List<Path> steps, long vocab, long seed) {
        Random random = new Random(seed);
        List<long[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] row = new long[sequence];
            for (int t = 0; t < sequence; t++) {
                row[t] = vocab > 1 ? random.nextInt((int) Math.min(vocab, Integer.MAX_VALUE)) : 0;
            }
            prompts.add(row);
        }
        return check(original, steps, prompts, 0, c -> {
            String file = steps.get(c.step()).getFileName().toString();
            if (c.outOfRange() != null) {
                throw new StepwiseException(String.format("step %d (%s): output '%s' differs from the original by up to"
                        + " %.3e (rtol %.0e, atol %.0e)", c.step(), file, c.outOfRange(),
                        c.maxAbsDiff().get(c.outOfRange()), rtol, atol));
            }
            if (!c.tokensAgree()) {
                throw new StepwiseException("step " + c.step() + " (" + file + "): " + c.tokenReport());
            }
        });
    }

    /** Hears each step's comparison as soon as it is made (progress; throwing stops the chain there). */
    public interface StepListener {
        void stepChecked(StepCheck check);
    }

    /**
     * Runs {@code original} and the step files side by side on {@code prompts} (each row's real tokens; shorter rows
     * are left padded with {@code pad} to this chain's sequence length) and returns every step's comparison; only a
     * step graph that does not run or does not match the original's outputs in shape is an error.
     */
    public List<StepCheck> check(Path original, List<Path> steps, List<long[]> prompts, long pad,
                                 StepListener listener) {
        // The original and the steps compute with memory maps of their weights files (the steps' one map shared):
        // two mapped copies in all, not a loaded and packed copy per session.
        try (SharedWeights weights = new SharedWeights();
             OrtSession orig = open(original, weights)) {
            return chain(orig, steps, weights, prompts, pad, null, listener);
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed while verifying: " + firstLine(e.getMessage()), e);
        }
    }

    /** The name under which step 0 of a seq2seq chain records the encoders' difference. */
    public static final String ENCODER_OUTPUT = "encoder last_hidden_state";

    /**
     * The seq2seq chain: {@code originalEncoder} and {@code stepEncoder} run on {@code inputs} (each row's real tokens,
     * right padded with {@code pad} to {@code encoderLength} and masked), their outputs compared (step 0's
     * {@link #ENCODER_OUTPUT}); then {@code original} (a decoder taking both caches and
     * {@code encoder_hidden_states}, such as the single decoder) and the step graphs decode side by side from
     * {@code start}, each fed its own encoder's output. This chain's sequence is the decoder prompt's, 1.
     */
    public List<StepCheck> checkSeq2Seq(Path originalEncoder, Path stepEncoder, Path original, List<Path> steps,
                                        List<long[]> inputs, int encoderLength, long pad, long start,
                                        StepListener listener) {
        OrtEnvironment env = OrtSessions.environment();
        PromptRows.Padded padded = PromptRows.rightPadded(inputs, encoderLength, pad);
        long[] ids = padded.ids();
        long[] mask = padded.mask();
        long[] dims = {batch, encoderLength};
        try (SharedWeights weights = new SharedWeights();
             OrtSession origEncoder = open(originalEncoder, weights);
             OrtSession encoder = open(stepEncoder, weights);
             OrtSession orig = open(original, weights);
             OnnxTensor idsTensor = ints(env, DataType.INT64_VALUE, dims, ids);
             OnnxTensor maskTensor = ints(env, DataType.INT64_VALUE, dims, mask);
             OrtSession.Result origEncoded = origEncoder.run(Map.of("input_ids", idsTensor, "attention_mask", maskTensor));
             OrtSession.Result encoded = encoder.run(Map.of("input_ids", idsTensor, "attention_mask", maskTensor))) {
            OnnxTensor origHidden = (OnnxTensor) origEncoded.get(0);
            OnnxTensor hidden = (OnnxTensor) encoded.get(0);
            Diff diff = diff(OrtTensors.toHostFloats(origHidden).floats(), OrtTensors.toHostFloats(hidden).floats());
            Encoded enc = new Encoded(origHidden, hidden, mask, encoderLength, diff);
            List<long[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                prompts.add(new long[] {start});
            }
            return chain(orig, steps, weights, prompts, pad, enc, listener);
        } catch (OrtException e) {
            throw new StepwiseException("ONNX Runtime failed while verifying: " + firstLine(e.getMessage()), e);
        }
    }

    /** Both encoders' outputs of a seq2seq chain, the mask they ran with and how far apart they are. */
    private record Encoded(OnnxTensor original, OnnxTensor steps, long[] mask, int length, Diff diff) {
    }

    private OrtSession open(Path file, SharedWeights weights) {
        return OrtSessions.open(file, threads, weights.initializers(OnnxModelReader.load(file)));
    }

    /** Greedy decoding through {@code orig} and the step graphs side by side; one check per step. */
    private List<StepCheck> chain(OrtSession orig, List<Path> steps, SharedWeights weights, List<long[]> prompts,
                                  long pad, Encoded enc, StepListener listener) {
        List<StepCheck> checks = new ArrayList<>();
        try (Chain chain = new Chain(orig, steps, weights, checks, enc)) {
            KvDecoding run = KvDecoding.start(chain, prompts, sequence, pad);
            listener.stepChecked(checks.get(0));
            for (int s = 1; s < steps.size(); s++) {
                run.step(checks.get(s - 1).tokens());
                listener.stepChecked(checks.get(s));
            }
        }
        return checks;
    }

    /** Both graphs as one {@link DecoderStep}: runs the original and step graph s, compares, keeps both caches. */
    private final class Chain implements DecoderStep {
        private final OrtEnvironment env = OrtSessions.environment();
        private final OrtSession orig;
        private final List<Path> steps;
        private final SharedWeights weights;
        private final List<StepCheck> checks;
        private final Map<String, OnnxTensor> origPast = new HashMap<>();
        private final Map<String, OnnxTensor> stepPast = new HashMap<>();
        private final List<AutoCloseable> open = new ArrayList<>();
        /** Copies of caches a step graph made once and keeps (the cross cache), for the whole chain. */
        private final List<OnnxTensor> kept = new ArrayList<>();
        private final Encoded enc;
        /** The last step's session, open while its presents are the next step's past. */
        private OrtSession previous;

        Chain(OrtSession orig, List<Path> steps, SharedWeights weights, List<StepCheck> checks, Encoded enc) {
            this.orig = orig;
            this.steps = steps;
            this.weights = weights;
            this.checks = checks;
            this.enc = enc;
        }

        @Override
        public float[][] run(StepIds in) {
            int s = checks.size();
            Path file = steps.get(s);
            List<AutoCloseable> created = new ArrayList<>();
            OrtSession stepSession = OrtSessions.open(file, threads, weights.initializers(OnnxModelReader.load(file)));
            try {
                Map<String, OnnxTensor> origFeeds = feeds(env, orig, in, s, origPast, created,
                        enc, enc == null ? null : enc.original());
                Map<String, OnnxTensor> stepFeeds = feeds(env, stepSession, in, s, stepPast, created,
                        enc, enc == null ? null : enc.steps());
                OrtSession.Result origOut = orig.run(origFeeds);
                OrtSession.Result stepOut;
                try {
                    stepOut = stepSession.run(stepFeeds);
                } catch (OrtException e) {
                    origOut.close();
                    throw new StepwiseException(file.getFileName() + ": ONNX Runtime fails to run it: "
                            + firstLine(e.getMessage()), e);
                }
                StepCheck check = compare(s, file, origOut, stepOut, s == 0 && enc != null ? enc.diff() : null);
                checks.add(check);
                // hand the presents on as the next step's past; a cache the step graph does not output again (the
                // cross cache after step 0) is copied out of this step's outputs once and kept
                Map<String, OnnxTensor> lastStepPast = new HashMap<>(stepPast);
                origPast.clear();
                stepPast.clear();
                for (DecoderSignature.CachePair p : signature.cache()) {
                    origPast.put(p.past(), (OnnxTensor) origOut.get(p.present()).orElseThrow());
                    OnnxValue present = stepOut.get(p.present()).orElse(null);
                    OnnxTensor last = lastStepPast.get(p.past());
                    if (present != null) {
                        stepPast.put(p.past(), (OnnxTensor) present);
                    } else if (last != null) {
                        if (!kept.contains(last)) {
                            last = OrtTensors.create(env, OrtTensors.toHostFloats(last), DType.FLOAT);
                            kept.add(last);
                        }
                        stepPast.put(p.past(), last);
                    }
                }
                closeAll(open);
                open.add(origOut);
                open.add(stepOut);
                float[] logits = OrtTensors.toHostFloats((OnnxTensor) origOut.get(signature.logits()).orElseThrow()).floats();
                long[] shape = ((OnnxTensor) origOut.get(signature.logits()).orElseThrow()).getInfo().getShape();
                int vocab = (int) shape[shape.length - 1];
                float[][] last = new float[in.rows()][];
                for (int r = 0; r < last.length; r++) {
                    int at = lastIndex(shape, r, 0);
                    last[r] = java.util.Arrays.copyOfRange(logits, at, at + vocab);
                }
                return last;
            } catch (OrtException e) {
                throw new StepwiseException("ONNX Runtime failed while verifying: " + firstLine(e.getMessage()), e);
            } finally {
                closeAll(created);
                OrtSessions.close(previous);
                previous = stepSession;
            }
        }

        @Override
        public void reorderCache(int[] from) {
            throw new IllegalStateException("the step chain is greedy: it never reorders rows");
        }

        @Override
        public void close() {
            closeAll(open);
            closeAll(new ArrayList<>(kept));
            kept.clear();
            OrtSessions.close(previous);
            previous = null;
        }
    }

    private Map<String, OnnxTensor> feeds(OrtEnvironment env, OrtSession session, StepIds ids, int step,
                                          Map<String, OnnxTensor> previousPresents,
                                          List<AutoCloseable> created, Encoded enc, OnnxTensor encoderHidden)
            throws OrtException {
        int encoderLength = enc == null ? 0 : enc.length();
        int seqLen = ids.length();
        int past = ids.total() - ids.length();
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
                case INPUT_IDS -> t = ints(env, in.elemType(), new long[] {batch, seqLen}, ids.inputIds());
                case POSITION_IDS -> t = ints(env, in.elemType(), new long[] {batch, seqLen}, ids.positionIds());
                case ATTENTION_MASK -> t = mask(env, in, ids, encoderLength);
                case USE_CACHE_BRANCH -> t = OnnxTensor.createTensor(env, new boolean[] {step > 0});
                case ENCODER_ATTENTION_MASK -> t = ints(env, in.elemType(), new long[] {batch, encoderLength},
                        encoder(enc, name).mask());
                case ENCODER_HIDDEN_STATES -> {
                    if (step == 0) {
                        encoder(enc, name);
                        feeds.put(name, encoderHidden);
                        continue;
                    }
                    // the cross cache is made: a graph that still takes the encoder's output gets an empty one
                    long[] none = encoderHidden.getInfo().getShape().clone();
                    none[1] = 0;
                    t = zeros(env, in.elemType(), none);
                }
                case PAST -> {
                    OnnxTensor prev = previousPresents.get(name);
                    if (prev != null) {
                        feeds.put(name, prev);
                        continue;
                    }
                    long[] dims = signature.dimsFor(batch, seqLen, past, encoderLength, "original").get(name);
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

    /** The encoder side of a seq2seq chain, which a graph taking {@code input} needs. */
    private static Encoded encoder(Encoded enc, String input) {
        if (enc == null) {
            throw new StepwiseException("input '" + input + "' is a seq2seq decoder's; check it with its encoder"
                    + " (checkSeq2Seq)");
        }
        return enc;
    }

    private OnnxTensor mask(OrtEnvironment env, DecoderSignature.Input in, StepIds ids, int encoderLength)
            throws OrtException {
        long[] dims = signature.dimsFor(batch, ids.length(), ids.total() - ids.length(), encoderLength, "original")
                .get(in.name());
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
        long[] values = ids.attentionMask();
        if (dims.length != 2) {
            values = new long[n];
            java.util.Arrays.fill(values, 1);
        }
        if (in.elemType() == DataType.FLOAT_VALUE || in.elemType() == DataType.FLOAT16_VALUE) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = values[i];
            }
            return floats(env, in.elemType(), dims, v);
        }
        return ints(env, in.elemType(), dims, values);
    }

    private StepCheck compare(int step, Path file, OrtSession.Result orig, OrtSession.Result got, Diff encoder)
            throws OrtException {
        Map<String, Double> diffs = new LinkedHashMap<>();
        String outOfRange = null;
        if (encoder != null) {
            diffs.put(ENCODER_OUTPUT, encoder.max());
            outOfRange = encoder.beyond() ? ENCODER_OUTPUT : null;
        }
        long[] tokens = null;
        boolean agree = true;
        String report = null;
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
            if (name.equals(signature.logits()) && haveShape.length == 3 && wantShape.length == 3
                    && haveShape[1] == 1 && wantShape[1] > 1) {
                // a step graph that keeps only the last position's logits: compare the original's there
                want = lastPositions(want, wantShape);
                wantShape = new long[] {wantShape[0], 1, wantShape[2]};
            }
            if (!java.util.Arrays.equals(wantShape, haveShape)) {
                throw new StepwiseException("step " + step + " (" + file.getFileName() + "): output '" + name
                        + "' has shape " + java.util.Arrays.toString(haveShape) + ", the original "
                        + java.util.Arrays.toString(wantShape));
            }
            Diff diff = diff(want, have);
            diffs.put(name, diff.max());
            if (diff.beyond() && outOfRange == null) {
                outOfRange = name;
            }
            if (name.equals(signature.logits())) {
                long[] a = argmaxLast(want, wantShape);
                long[] b = argmaxLast(have, haveShape);
                for (int r = 0; r < a.length && agree; r++) {
                    if (a[r] != b[r] && Math.abs(want[lastIndex(wantShape, r, b[r])] - want[lastIndex(wantShape, r, a[r])])
                            > atol) {
                        agree = false;
                        report = "greedy token of row " + r + " is " + b[r] + ", the original's " + a[r];
                    }
                }
                tokens = a;
            }
        }
        if (tokens == null) {
            throw new StepwiseException("step " + step + " (" + file.getFileName() + "): no output '"
                    + signature.logits() + "'");
        }
        return new StepCheck(step, diffs, outOfRange, tokens, agree, report);
    }

    /** Max abs difference of two outputs, and whether any element is beyond {@code atol + rtol·|want|}. */
    private record Diff(double max, boolean beyond) {
    }

    private Diff diff(float[] want, float[] have) {
        double max = 0;
        boolean beyond = false;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) want[i] - have[i]);
            if (Double.isNaN(d) && !(Float.isNaN(want[i]) && Float.isNaN(have[i]))) {
                d = Double.POSITIVE_INFINITY;
            } else if (Double.isNaN(d)) {
                d = 0;
            }
            max = Math.max(max, d);
            if (d > atol + rtol * Math.abs(want[i])) {
                beyond = true;
            }
        }
        return new Diff(max, beyond);
    }

    /** The last position of each row of logits {@code [rows, positions, vocab]}. */
    private static float[] lastPositions(float[] logits, long[] shape) {
        int rows = (int) shape[0];
        int vocab = (int) shape[2];
        float[] out = new float[rows * vocab];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(logits, lastIndex(shape, r, 0), out, r * vocab, vocab);
        }
        return out;
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
