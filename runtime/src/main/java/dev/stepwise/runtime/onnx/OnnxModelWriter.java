package dev.stepwise.runtime.onnx;

import com.google.protobuf.UnsafeByteOperations;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.io.OutputFolder;
import dev.stepwise.runtime.onnx.proto.Onnx.GraphProto;
import dev.stepwise.runtime.onnx.proto.Onnx.ModelProto;
import dev.stepwise.runtime.onnx.proto.Onnx.StringStringEntryProto;
import dev.stepwise.runtime.onnx.proto.Onnx.TensorProto;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a traced model into a folder. Weights were already streamed into the external data file by
 * {@link ExternalDataWriter}; here the caller decides, once the size is known, whether they stay there or are
 * inlined into the .onnx file as raw_data (small models: one file, no sidecar).
 */
public final class OnnxModelWriter {
    /** Protobuf cannot serialize or parse a message of 2 GiB or more. */
    public static final long PROTOBUF_LIMIT = Integer.MAX_VALUE;

    private OnnxModelWriter() {
    }

    /**
     * Writes {@code dir/modelFileName}. With {@code externalData}, initializers keep pointing into
     * {@code dir/dataFileName}; without, the bytes they point at in that file are read back into raw_data and the
     * file is deleted. Fails, naming the file, when the .onnx file would reach protobuf's 2 GiB limit. Returns the
     * model file.
     */
    public static Path write(ModelProto model, Path dir, String modelFileName, String dataFileName,
                             boolean externalData) {
        return write(model, dir, modelFileName, dataFileName, externalData, false);
    }

    /**
     * As {@link #write(ModelProto, Path, String, String, boolean)}; with {@code keepDataFile} an inlined model leaves
     * the data file in place, for when several models inline from the same file (the last one deletes it).
     */
    public static Path write(ModelProto model, Path dir, String modelFileName, String dataFileName,
                             boolean externalData, boolean keepDataFile) {
        Path modelFile = dir.resolve(modelFileName);
        Path dataFile = dir.resolve(dataFileName);
        ModelProto out = externalData ? model : inline(model, dataFile, dataFileName, modelFile);
        long size = serializedSize(out);
        if (size >= PROTOBUF_LIMIT) {
            throw new StepwiseException(modelFile + " would be " + size + " bytes, over protobuf's 2 GiB limit"
                    + (externalData ? "; move large constants into external data" : "; write it with external data"));
        }
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(modelFile), 1 << 16)) {
            out.writeTo(os);
        } catch (IOException e) {
            throw OutputFolder.writeFailure("write", modelFile, e);
        }
        if (!externalData && !keepDataFile) {
            try {
                Files.deleteIfExists(dataFile);
            } catch (IOException e) {
                throw new StepwiseException("cannot delete " + dataFile + ": " + e.getMessage(), e);
            }
        }
        return modelFile;
    }

    /** The model with every initializer stored in {@code dataFileName} turned into raw_data. */
    private static ModelProto inline(ModelProto model, Path dataFile, String dataFileName, Path modelFile) {
        GraphProto graph = model.getGraph();
        long total = serializedSize(model);
        boolean any = false;
        for (TensorProto t : graph.getInitializerList()) {
            if (storedIn(t, dataFileName)) {
                total += externalLong(t, "length", -1) + 16;
                any = true;
            }
        }
        if (!any) {
            return model;
        }
        if (total >= PROTOBUF_LIMIT) {
            throw new StepwiseException(modelFile + " would be about " + total + " bytes with its weights inlined,"
                    + " over protobuf's 2 GiB limit; write it with external data");
        }
        GraphProto.Builder g = graph.toBuilder();
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                if (!storedIn(t, dataFileName)) {
                    continue;
                }
                long offset = externalLong(t, "offset", 0);
                long length = externalLong(t, "length", -1);
                byte[] bytes = new byte[Math.toIntExact(length)];
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    if (ch.read(buf, offset + buf.position()) < 0) {
                        throw new StepwiseException(dataFile + " ends before the data of '" + t.getName() + "'");
                    }
                }
                g.setInitializer(i, t.toBuilder().clearExternalData()
                        .setDataLocation(TensorProto.DataLocation.DEFAULT)
                        .setRawData(UnsafeByteOperations.unsafeWrap(bytes)).build());
            }
        } catch (IOException e) {
            throw new StepwiseException("cannot read " + dataFile + ": " + e.getMessage(), e);
        }
        return model.toBuilder().setGraph(g).build();
    }

    private static boolean storedIn(TensorProto t, String dataFileName) {
        if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
            return false;
        }
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location")) {
                return e.getValue().equals(dataFileName);
            }
        }
        return false;
    }

    private static long externalLong(TensorProto t, String key, long fallback) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals(key)) {
                return Long.parseLong(e.getValue());
            }
        }
        if (fallback < 0) {
            throw new StepwiseException("initializer '" + t.getName() + "' has no external_data " + key);
        }
        return fallback;
    }

    /**
     * The serialized size without overflow: protobuf's own size is an int, which wraps for models near the limit.
     * Initializers dominate and are each below 2 GiB, so they are summed one by one.
     */
    static long serializedSize(ModelProto model) {
        GraphProto graph = model.getGraph();
        long size = model.toBuilder().clearGraph().build().getSerializedSize();
        size += graph.toBuilder().clearInitializer().build().getSerializedSize() + 10L;
        for (TensorProto t : graph.getInitializerList()) {
            size += t.getSerializedSize() + 10L; // tag and length prefix, at most
        }
        return size;
    }
}
