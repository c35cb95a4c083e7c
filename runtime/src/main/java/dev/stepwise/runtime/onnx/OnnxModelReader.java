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
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
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
            OnnxModelReader reader = new OnnxModelReader(file, ModelProto.parseFrom(coded));
            OnnxModelCheck.check(reader);
            return reader;
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
            return external(t).length();
        }
        if (!t.getRawData().isEmpty()) {
            return t.getRawData().size();
        }
        return declaredBytes(t);
    }

    /**
     * A tensor's data as little-endian bytes (read-only): a view of raw_data, a memory map of its external file
     * region, or the typed fields packed into a new buffer.
     */
    public ByteBuffer data(TensorProto t) {
        if (isExternal(t)) {
            External e = external(t);
            if (e.length() > Integer.MAX_VALUE) {
                throw new StepwiseException(file + ": initializer '" + t.getName() + "' holds " + e.length()
                        + " bytes; over 2 GiB cannot be mapped as one buffer");
            }
            try (FileChannel ch = FileChannel.open(e.path(), StandardOpenOption.READ)) {
                if (e.offset() + e.length() > ch.size()) {
                    throw new StepwiseException(file + ": initializer '" + t.getName() + "' needs bytes " + e.offset()
                            + ".." + (e.offset() + e.length()) + " of " + e.path() + ", which has " + ch.size());
                }
                return ch.map(FileChannel.MapMode.READ_ONLY, e.offset(), e.length()).order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException ex) {
                throw new StepwiseException("cannot read " + e.path() + ": " + ex.getMessage(), ex);
            }
        }
        if (!t.getRawData().isEmpty()) {
            return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        return typedData(t);
    }

    /**
     * Checks that an initializer's data is what its dims and type say: raw_data of exactly that many bytes, as many
     * typed values as elements, or an external region of that length inside an existing file.
     */
    void checkInitializer(TensorProto t) {
        long expected = declaredBytes(t);
        int width = OnnxTypes.byteSize(t.getDataType());
        String where = file + ": initializer '" + t.getName() + "'";
        if (isExternal(t)) {
            External e = external(t);
            if (width > 0 && e.length() != expected) {
                throw new StepwiseException(where + " has " + e.length() + " bytes of external data in " + e.location()
                        + ", but its dims " + Arrays.toString(dims(t)) + " need " + expected);
            }
        } else if (!t.getRawData().isEmpty()) {
            if (width > 0 && t.getRawData().size() != expected) {
                throw new StepwiseException(where + " has " + t.getRawData().size() + " bytes of raw_data, but its dims "
                        + Arrays.toString(dims(t)) + " × " + width + "-byte elements need " + expected);
            }
        } else if (width > 0 && typedValues(t) >= 0 && typedValues(t) != expected / width) {
            throw new StepwiseException(where + " holds " + typedValues(t) + " values, but its dims "
                    + Arrays.toString(dims(t)) + " need " + expected / width);
        }
    }

    /** Bytes the dims and data type call for (0 for types without a fixed width); checked for sign and overflow. */
    private long declaredBytes(TensorProto t) {
        long count = 1;
        for (long d : dims(t)) {
            if (d < 0) {
                throw new StepwiseException(file + ": initializer '" + t.getName() + "' has a negative dimension in "
                        + Arrays.toString(dims(t)));
            }
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new StepwiseException(file + ": initializer '" + t.getName() + "' has dims "
                        + Arrays.toString(dims(t)) + " with too many elements");
            }
        }
        try {
            return Math.multiplyExact(count, OnnxTypes.byteSize(t.getDataType()));
        } catch (ArithmeticException e) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' has dims "
                    + Arrays.toString(dims(t)) + " with too many bytes");
        }
    }

    /** How many values the typed field of the tensor's type holds; -1 for types this reader does not pack. */
    private static int typedValues(TensorProto t) {
        return switch (t.getDataType()) {
            case TensorProto.DataType.FLOAT_VALUE -> t.getFloatDataCount();
            case TensorProto.DataType.INT64_VALUE -> t.getInt64DataCount();
            case TensorProto.DataType.DOUBLE_VALUE -> t.getDoubleDataCount();
            case TensorProto.DataType.UINT64_VALUE, TensorProto.DataType.UINT32_VALUE -> t.getUint64DataCount();
            case TensorProto.DataType.COMPLEX64_VALUE, TensorProto.DataType.COMPLEX128_VALUE -> -1;
            default -> t.getInt32DataCount();
        };
    }

    private ByteBuffer typedData(TensorProto t) {
        checkInitializer(t);
        int type = t.getDataType();
        int width = OnnxTypes.byteSize(type);
        long bytes = declaredBytes(t);
        if (width == 0 || typedValues(t) < 0) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "': data type " + type
                    + " is not supported");
        }
        if (bytes > Integer.MAX_VALUE) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' holds " + bytes
                    + " bytes in typed fields; over 2 GiB cannot be packed into one buffer");
        }
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (!OnnxTypes.putTypedData(t, b)) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "': data type " + type
                    + " is not supported");
        }
        return b.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Where a tensor's external data lies, checked: a location inside the model's folder, an existing file, a region inside it. */
    private record External(String location, Path path, long offset, long length) {
    }

    private External external(TensorProto t) {
        Path path = resolve(t);
        String where = file + ": initializer '" + t.getName() + "'";
        long offset = externalNumber(t, "offset", 0);
        long size;
        try {
            size = Files.size(path);
        } catch (NoSuchFileException e) {
            throw new StepwiseException(where + " has its data in " + externalValue(t, "location")
                    + ", which does not exist beside the model");
        } catch (IOException e) {
            throw new StepwiseException("cannot read " + path + ": " + e.getMessage(), e);
        }
        if (offset > size) {
            throw new StepwiseException(where + " starts at byte " + offset + " of " + externalValue(t, "location")
                    + ", which has only " + size + " bytes");
        }
        long length = externalNumber(t, "length", size - offset);
        if (length > size - offset) {
            throw new StepwiseException(where + " needs bytes " + offset + ".." + (offset + length) + " of "
                    + externalValue(t, "location") + ", which has only " + size + " bytes");
        }
        return new External(externalValue(t, "location"), path, offset, length);
    }

    /** A non-negative integer of the tensor's external_data entries, or {@code fallback} when absent. */
    private long externalNumber(TensorProto t, String key, long fallback) {
        String value = externalValue(t, key);
        if (value == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(value.trim());
            if (v >= 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new StepwiseException(file + ": initializer '" + t.getName() + "' has external data " + key + " '"
                + value.replace('\n', ' ') + "', expected a non-negative integer");
    }

    /** The external file of a tensor; refuses locations that leave the model's folder. */
    private Path resolve(TensorProto t) {
        String location = externalValue(t, "location");
        if (location == null || location.isEmpty()) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' has external data without a location");
        }
        Path dir = directory().normalize();
        Path path;
        try {
            path = dir.resolve(location).normalize();
            if (Path.of(location).isAbsolute() || !path.startsWith(dir)) {
                path = null;
            }
        } catch (InvalidPathException e) {
            path = null;
        }
        if (path == null) {
            throw new StepwiseException(file + ": initializer '" + t.getName() + "' points outside the model folder ("
                    + location.replace('\n', ' ') + ")");
        }
        return path;
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
