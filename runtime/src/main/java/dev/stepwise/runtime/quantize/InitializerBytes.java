package dev.stepwise.runtime.quantize;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.PositionalRead;
import dev.stepwise.runtime.onnx.OnnxModelReader;
import dev.stepwise.runtime.onnx.passes.SharedExternalData;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An initializer's bytes read piece by piece where they are stored: a region of its external data file (any size,
 * read with positional reads, never mapped whole) or the model's own raw data. {@link #key} names the stored bytes, so
 * the same weight met in several models of a folder is quantized once.
 */
record InitializerBytes(TensorProto tensor, Path file, long start, long length, ByteBuffer inline)
        implements TensorBytes {
    /** The bytes of {@code t}, an initializer of {@code model}. */
    static InitializerBytes of(OnnxModelReader model, TensorProto t) {
        if (!OnnxModelReader.isExternal(t)) {
            ByteBuffer data = model.data(t);
            return new InitializerBytes(t, null, 0, data.remaining(), data);
        }
        String location = value(t, "location");
        Path dir = model.directory().toAbsolutePath().normalize();
        Path path = dir.resolve(location == null ? "" : location).normalize();
        if (location == null || Path.of(location).isAbsolute() || !path.startsWith(dir)) {
            throw new StepwiseException(model.file() + ": initializer '" + t.getName()
                    + "' has external data outside the model folder (" + location + ")");
        }
        String offset = value(t, "offset");
        return new InitializerBytes(t, path, offset == null ? 0 : Long.parseLong(offset), model.byteLength(t), null);
    }

    /** Identifies the stored bytes: file and region for external data, content identity for inline data. */
    String key() {
        return file != null ? file + "@" + start + "+" + length
                : "inline:" + tensor.getDataType() + ":" + tensor.getDimsList() + ":" + SharedExternalData.digest(inline.duplicate());
    }

    @Override
    public long size() {
        return length;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        if (inline != null) {
            dst.put(inline.slice(Math.toIntExact(offset), dst.remaining()));
            return;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            PositionalRead.read(ch, file, tensor.getName(), start, length, offset, dst);
        } catch (IOException e) {
            throw new StepwiseException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String value(TensorProto t, String key) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals(key)) {
                return e.getValue();
            }
        }
        return null;
    }
}
