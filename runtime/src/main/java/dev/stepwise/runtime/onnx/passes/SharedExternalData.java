package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.ExternalDataFile;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * One external data file that several models (the step graphs of one decoder) share, so N graphs cost the weights
 * once on disk. Each model's initializers are rewritten to point into it: an external tensor of the source model is
 * copied once per source region (file, offset, length), streamed file to file; an inline tensor of at least
 * {@code minExternalBytes} is stored once per distinct content (folded tensors that every step computes alike are
 * shared too). Smaller inline tensors stay in the graph. Every tensor starts at a 64-byte aligned offset.
 */
public final class SharedExternalData implements Closeable {
    public static final int ALIGNMENT = ExternalDataFile.ALIGNMENT;

    private final ExternalDataFile out;
    private final long minExternalBytes;
    private final Map<String, long[]> regions = new HashMap<>();
    private final Map<String, long[]> contents = new HashMap<>();
    /** Inline data already stored, by identity: step graphs of one source share the same ByteString objects. */
    private final Map<com.google.protobuf.ByteString, long[]> stored = new java.util.IdentityHashMap<>();
    private final Set<String> names = new HashSet<>();

    public SharedExternalData(Path file, long minExternalBytes) {
        this.out = new ExternalDataFile(file);
        this.minExternalBytes = minExternalBytes;
    }

    public Path file() {
        return out.file();
    }

    public long size() {
        return out.size();
    }

    /** The model with its initializers moved into (or pointed at) the shared file; {@code sourceDir} resolves the
     * model's own external data. */
    public ModelProto share(ModelProto model, Path sourceDir) {
        GraphProto.Builder g = model.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (InitializerData.isExternal(t)) {
                g.setInitializer(i, copyExternal(t, sourceDir));
            } else if (InitializerData.byteLength(t) >= minExternalBytes) {
                g.setInitializer(i, storeInline(t));
            }
        }
        return model.toBuilder().setGraph(g).build();
    }

    private TensorProto copyExternal(TensorProto t, Path sourceDir) {
        String loc = InitializerData.external(t, "location");
        Path src = sourceDir.toAbsolutePath().normalize().resolve(loc).normalize();
        if (!src.startsWith(sourceDir.toAbsolutePath().normalize())) {
            throw new StepwiseException("initializer '" + t.getName() + "' points outside the model folder (" + loc + ")");
        }
        String off = InitializerData.external(t, "offset");
        long offset = off == null ? 0 : Long.parseLong(off);
        long length = InitializerData.byteLength(t);
        String key = src + "\u0000" + offset + "\u0000" + length;
        long[] at = regions.get(key);
        if (at == null) {
            long start = out.alignedStart();
            try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
                if (offset + length > in.size()) {
                    throw new StepwiseException("initializer '" + t.getName() + "' needs bytes " + offset + ".."
                            + (offset + length) + " of " + src + ", which has " + in.size());
                }
                out.copyAt(in, offset, length, start, t.getName());
            } catch (IOException e) {
                throw new StepwiseException("cannot copy '" + t.getName() + "' from " + src + " to " + out.file()
                        + ": " + e.getMessage(), e);
            }
            at = new long[] {start, length};
            regions.put(key, at);
        }
        return pointTo(t, at);
    }

    private TensorProto storeInline(TensorProto t) {
        long[] known = t.getRawData().isEmpty() ? null : stored.get(t.getRawData());
        if (known != null) {
            return pointTo(t, known);
        }
        ByteBuffer data = InitializerData.read(t, null);
        String key = t.getDataType() + ":" + digest(data.duplicate());
        long[] at = contents.get(key);
        if (at == null) {
            long start = out.alignedStart();
            out.writeAt(data.duplicate(), start, t.getName());
            at = new long[] {start, data.remaining()};
            contents.put(key, at);
        }
        if (!t.getRawData().isEmpty()) {
            stored.put(t.getRawData(), at);
        }
        return pointTo(t, at);
    }

    /** Fills a region of the shared file: puts its bytes at {@code start} through {@link #writeAt}. */
    @FunctionalInterface
    public interface RegionFill {
        void fill(long start);
    }

    /**
     * Stores a tensor that no source model holds (a quantized weight): {@code fill} writes its {@code length} bytes at
     * the aligned start it is given; returns {@code header} (name, type, dims) pointing into the shared file.
     */
    public TensorProto storeNew(TensorProto header, long length, RegionFill fill) {
        long start = out.alignedStart();
        fill.fill(start);
        out.extendTo(start + length);
        return pointTo(header, new long[] {start, length});
    }

    /** Writes {@code b}'s remaining bytes at {@code at}; errors name {@code what}. */
    public void writeAt(ByteBuffer b, long at, String what) {
        out.writeAt(b, at, what);
    }

    private TensorProto pointTo(TensorProto t, long[] at) {
        names.add(t.getName());
        return out.pointTo(t.toBuilder(), at[0], at[1]).build();
    }

    /** SHA-256 of a buffer's remaining bytes, in hex (the buffer is consumed). */
    public static String digest(ByteBuffer b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(b);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        out.close();
    }
}
