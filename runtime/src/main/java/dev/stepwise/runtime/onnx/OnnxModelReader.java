package dev.stepwise.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.NodeProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ValueInfoProto;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An ONNX model loaded from disk. External data is not read on load: initializers keep their references and
 * {@link #data} maps the bytes of one tensor when asked, so inspecting a 10 GB model costs its graph, not its weights.
 */
public final class OnnxModelReader {
    private final Path file;
    private final ModelProto model;

    private OnnxModelReader(Path file, ModelProto model) {
        this.file = file;
        this.model = model;
    }

    public static OnnxModelReader load(Path file) {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CodedInputStream coded = CodedInputStream.newInstance(in);
            coded.setSizeLimit(Integer.MAX_VALUE); // the default 64 MiB limit is below many inlined models
            return new OnnxModelReader(file, ModelProto.parseFrom(coded));
        } catch (NoSuchFileException e) {
            throw new StepwiseException("no ONNX model at " + file);
        } catch (InvalidProtocolBufferException e) {
            throw new StepwiseException(file + " is not a readable ONNX model: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new StepwiseException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /** The folder external data locations are relative to. */
    public Path directory() {
        Path parent = file.toAbsolutePath().getParent();
        return parent != null ? parent : Path.of(".");
    }

    public ModelProto model() {
        return model;
    }

    public List<ValueInfoProto> inputs() {
        return model.getGraph().getInputList();
    }

    public List<ValueInfoProto> outputs() {
        return model.getGraph().getOutputList();
    }

    public List<TensorProto> initializers() {
        return model.getGraph().getInitializerList();
    }

    /** Node count per op type (domain-qualified outside the default domain), sorted by name. */
    public Map<String, Integer> opCounts() {
        Map<String, Integer> counts = new TreeMap<>();
        for (NodeProto n : model.getGraph().getNodeList()) {
            String key = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")
                    ? n.getOpType() : n.getDomain() + "." + n.getOpType();
            counts.merge(key, 1, Integer::sum);
        }
        return counts;
    }

    /** Bytes of all initializer data, wherever it is stored. */
    public long initializerBytes() {
        long total = 0;
        for (TensorProto t : initializers()) {
            total += byteLength(t);
        }
        return total;
    }

    /** External data files the initializers refer to, as written in the model (relative paths). */
    public Set<String> externalFiles() {
        Set<String> files = new TreeSet<>();
        for (TensorProto t : initializers()) {
            if (isExternal(t)) {
                files.add(externalValue(t, "location"));
            }
        }
        return files;
    }

    public static boolean isExternal(TensorProto t) {
        return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }

    /** Size of a tensor's data in bytes, without reading it. */
    public long byteLength(TensorProto t) {
        if (isExternal(t)) {
            String length = externalValue(t, "length");
            if (length != null) {
                return Long.parseLong(length);
            }
            try {
                return Files.size(resolve(t)) - offset(t);
            } catch (IOException e) {
                throw new StepwiseException("cannot read " + resolve(t) + ": " + e.getMessage(), e);
            }
        }
        if (!t.getRawData().isEmpty()) {
            return t.getRawData().size();
        }
        return OnnxTypes.elementCount(dims(t)) * OnnxTypes.byteSize(t.getDataType());
    }

    /**
     * A tensor's data as little-endian bytes (read-only): a view of raw_data, a memory map of its external file
     * region, or the typed fields packed into a new buffer.
     */
    public ByteBuffer data(TensorProto t) {
        if (isExternal(t)) {
            Path path = resolve(t);
            long offset = offset(t);
            long length = byteLength(t);
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                if (offset + length > ch.size()) {
                    throw new StepwiseException("initializer '" + t.getName() + "' needs bytes " + offset + ".."
                            + (offset + length) + " of " + path + ", which has " + ch.size());
                }
                return ch.map(FileChannel.MapMode.READ_ONLY, offset, length).order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw new StepwiseException("cannot read " + path + ": " + e.getMessage(), e);
            }
        }
        if (!t.getRawData().isEmpty()) {
            return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        return typedData(t);
    }

    private static ByteBuffer typedData(TensorProto t) {
        int type = t.getDataType();
        int width = OnnxTypes.byteSize(type);
        long count = OnnxTypes.elementCount(dims(t));
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(count * width)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case TensorProto.DataType.FLOAT_VALUE -> t.getFloatDataList().forEach(b::putFloat);
            case TensorProto.DataType.INT64_VALUE -> t.getInt64DataList().forEach(b::putLong);
            case TensorProto.DataType.DOUBLE_VALUE -> t.getDoubleDataList().forEach(b::putDouble);
            case TensorProto.DataType.UINT64_VALUE -> t.getUint64DataList().forEach(b::putLong);
            case TensorProto.DataType.UINT32_VALUE -> t.getUint64DataList().forEach(v -> b.putInt(v.intValue()));
            default -> {
                // int32_data carries every type of 32 bits or less, one element per entry
                for (int v : t.getInt32DataList()) {
                    switch (width) {
                        case 1 -> b.put((byte) v);
                        case 2 -> b.putShort((short) v);
                        case 4 -> b.putInt(v);
                        default -> throw new StepwiseException("initializer '" + t.getName()
                                + "': data type " + type + " is not supported");
                    }
                }
            }
        }
        return b.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The external file of a tensor; refuses locations that leave the model's folder. */
    private Path resolve(TensorProto t) {
        String location = externalValue(t, "location");
        if (location == null || location.isEmpty()) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' has external data without a location");
        }
        Path dir = directory().normalize();
        Path path = dir.resolve(location).normalize();
        if (Path.of(location).isAbsolute() || !path.startsWith(dir)) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' points outside the model folder ("
                    + location + ")");
        }
        return path;
    }

    private static long offset(TensorProto t) {
        String offset = externalValue(t, "offset");
        return offset == null ? 0 : Long.parseLong(offset);
    }

    private static String externalValue(TensorProto t, String key) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals(key)) {
                return e.getValue();
            }
        }
        return null;
    }

    private static long[] dims(TensorProto t) {
        long[] d = new long[t.getDimsCount()];
        for (int i = 0; i < d.length; i++) {
            d[i] = t.getDims(i);
        }
        return d;
    }

    /** A few lines for {@code inspect}: inputs, outputs, op counts, weight bytes and files. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(file.getFileName()).append(": ir_version ").append(model.getIrVersion()).append(", opsets");
        model.getOpsetImportList().forEach(o -> sb.append(' ')
                .append(o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain()).append('=').append(o.getVersion()));
        sb.append('\n');
        for (ValueInfoProto v : inputs()) {
            sb.append("  input  ").append(describe(v)).append('\n');
        }
        for (ValueInfoProto v : outputs()) {
            sb.append("  output ").append(describe(v)).append('\n');
        }
        sb.append("  nodes  ").append(model.getGraph().getNodeCount()).append(' ').append(opCounts()).append('\n');
        sb.append("  initializers ").append(initializers().size()).append(", ").append(initializerBytes())
                .append(" bytes");
        Set<String> external = externalFiles();
        if (!external.isEmpty()) {
            sb.append(", external data in ").append(String.join(", ", external));
        }
        return sb.append('\n').toString();
    }

    private static String describe(ValueInfoProto v) {
        StringBuilder sb = new StringBuilder(v.getName()).append(' ');
        if (!v.getType().hasTensorType()) {
            return sb.append("(not a tensor)").toString();
        }
        var tt = v.getType().getTensorType();
        var dtype = OnnxTypes.dtype(tt.getElemType());
        sb.append(dtype != null ? dtype.name().toLowerCase() : "type " + tt.getElemType()).append('[');
        for (int i = 0; i < tt.getShape().getDimCount(); i++) {
            var d = tt.getShape().getDim(i);
            sb.append(i == 0 ? "" : ", ")
                    .append(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
        }
        return sb.append(']').toString();
    }
}
