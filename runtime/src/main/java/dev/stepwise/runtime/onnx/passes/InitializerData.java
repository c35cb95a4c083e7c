package dev.stepwise.runtime.onnx.passes;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.onnx.OnnxTypes;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto.DataType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Reads the bytes of one (small) initializer, wherever they are stored, for folding. */
final class InitializerData {
    private InitializerData() {
    }

    static boolean isExternal(TensorProto t) {
        return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }

    static String external(TensorProto t, String key) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals(key)) {
                return e.getValue();
            }
        }
        return null;
    }

    /** The little-endian bytes of {@code t}; external data is resolved against {@code modelDir}. */
    static ByteBuffer read(TensorProto t, Path modelDir) {
        if (isExternal(t)) {
            String location = external(t, "location");
            if (location == null || modelDir == null) {
                throw new StepwiseException("initializer '" + t.getName() + "' has external data "
                        + (location == null ? "without a location" : "but the model folder is unknown"));
            }
            Path dir = modelDir.toAbsolutePath().normalize();
            Path file = dir.resolve(location).normalize();
            if (!file.startsWith(dir)) {
                throw new StepwiseException("initializer '" + t.getName() + "' points outside the model folder ("
                        + location + ")");
            }
            String off = external(t, "offset");
            String len = external(t, "length");
            long offset = off == null ? 0 : Long.parseLong(off);
            long length = len != null ? Long.parseLong(len)
                    : OnnxTypes.elementCount(TensorType.fromTensor(t).dims()) * OnnxTypes.byteSize(t.getDataType());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                if (offset + length > ch.size()) {
                    throw new StepwiseException("initializer '" + t.getName() + "' needs bytes " + offset + ".."
                            + (offset + length) + " of " + file + ", which has " + ch.size());
                }
                ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(length));
                while (b.hasRemaining()) {
                    if (ch.read(b, offset + b.position()) < 0) {
                        break;
                    }
                }
                return b.flip().order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw new StepwiseException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        if (!t.getRawData().isEmpty()) {
            return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        int type = t.getDataType();
        int width = OnnxTypes.byteSize(type);
        long count = OnnxTypes.elementCount(TensorType.fromTensor(t).dims());
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(count * width)).order(ByteOrder.LITTLE_ENDIAN);
        if (!OnnxTypes.putTypedData(t, b)) {
            throw new StepwiseException("initializer '" + t.getName() + "': data type " + TensorType.typeName(type)
                    + " is not supported");
        }
        if (b.hasRemaining()) {
            throw new StepwiseException("initializer '" + t.getName() + "' holds fewer elements than its dims");
        }
        return b.flip().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Bytes of the tensor's data, without reading it. */
    static long byteLength(TensorProto t) {
        if (isExternal(t)) {
            String len = external(t, "length");
            if (len != null) {
                return Long.parseLong(len);
            }
        } else if (!t.getRawData().isEmpty()) {
            return t.getRawData().size();
        }
        return OnnxTypes.elementCount(TensorType.fromTensor(t).dims()) * OnnxTypes.byteSize(t.getDataType());
    }
}
