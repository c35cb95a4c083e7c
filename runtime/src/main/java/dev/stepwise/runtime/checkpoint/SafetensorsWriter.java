package dev.stepwise.runtime.checkpoint;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.stepwise.runtime.StepwiseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams tensors into a {@code .safetensors} file. All names, dtypes and shapes are declared up front, so the header
 * is written first and each tensor's bytes go straight to their place in the file; values arrive in chunks and the
 * model is never held in memory. Tensors may be written in any order, each in one or more pieces.
 *
 * <p>Float values are narrowed to the declared dtype (F32, F16 or BF16). The file is written beside the target under
 * a temporary name and moved into place by {@link #close()} only when every tensor is complete.
 */
public final class SafetensorsWriter implements AutoCloseable {
    /** Floats converted per write: large enough for fast I/O, small enough to keep memory flat. */
    private static final int CHUNK = 1 << 20;
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** Produces the next values of a tensor: fill all {@code chunk.remaining()} floats (relative or absolute puts). */
    @FunctionalInterface
    public interface ChunkProducer {
        /** @param firstElement index, within the tensor, of the chunk's first value */
        void fill(long firstElement, FloatBuffer chunk);
    }

    private static final class Slot {
        final PlannedTensor tensor;
        /** Where the tensor starts in the data section. */
        final long dataOffset;
        final long byteLength;
        long bytesWritten;

        Slot(PlannedTensor tensor, long dataOffset) {
            this.tensor = tensor;
            this.dataOffset = dataOffset;
            this.byteLength = tensor.byteLength();
        }
    }

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Slot> slots;
    private final float[] floats = new float[CHUNK];
    private final ByteBuffer bytes = ByteBuffer.allocateDirect(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);
    private boolean closed;

    private SafetensorsWriter(Path target, Path temp, FileChannel channel, long dataStart, Map<String, Slot> slots) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.dataStart = dataStart;
        this.slots = slots;
    }

    public static SafetensorsWriter create(Path file, List<PlannedTensor> tensors) {
        return create(file, tensors, Map.of());
    }

    /** Plans the file and writes its header; {@code metadata} becomes the header's {@code __metadata__}. */
    public static SafetensorsWriter create(Path file, List<PlannedTensor> tensors, Map<String, String> metadata) {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add(SafetensorsHeader.METADATA_KEY, meta);
        }
        Map<String, Slot> slots = new LinkedHashMap<>();
        long offset = 0;
        for (PlannedTensor t : tensors) {
            if (slots.containsKey(t.name())) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' is planned twice");
            }
            long end = Math.addExact(offset, t.byteLength());
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", t.dtype().name());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(end);
            entry.add("data_offsets", offsets);
            header.add(t.name(), entry);
            slots.put(t.name(), new Slot(t, offset));
            offset = end;
        }
        byte[] json = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);
        // Pad with spaces so the data section starts 8-byte aligned, as the reference implementation does.
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        long dataStart = 8L + padded;

        Path absolute = file.toAbsolutePath();
        Path temp = null;
        FileChannel channel = null;
        try {
            Files.createDirectories(absolute.getParent());
            temp = SiblingTemp.newFile(absolute);
            channel = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            writeFully(channel, head, 0);
            // Size the file now so a tensor written out of order leaves no doubt about the final length.
            if (dataStart + offset > channel.size()) {
                writeFully(channel, ByteBuffer.allocate(1), dataStart + offset - 1);
            }
            return new SafetensorsWriter(absolute, temp, channel, dataStart, slots);
        } catch (IOException e) {
            cleanUp(channel, temp);
            throw new StepwiseException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Appends values to a tensor, narrowing them to its dtype. */
    public void write(String name, FloatBuffer values) {
        Slot slot = floatSlot(name, values.remaining());
        while (values.hasRemaining()) {
            int n = Math.min(values.remaining(), CHUNK);
            values.get(floats, 0, n);
            encodeAndWrite(slot, n);
        }
    }

    public void write(String name, float[] values) {
        write(name, FloatBuffer.wrap(values));
    }

    /** Writes the rest of a tensor from a producer, one chunk at a time. */
    public void write(String name, ChunkProducer producer) {
        Slot slot = floatSlot(name, 0);
        int size = slot.tensor.dtype().byteSize();
        while (slot.bytesWritten < slot.byteLength) {
            long first = slot.bytesWritten / size;
            int n = (int) Math.min(slot.byteLength / size - first, CHUNK);
            FloatBuffer chunk = FloatBuffer.wrap(floats, 0, n).slice();
            producer.fill(first, chunk);
            encodeAndWrite(slot, n);
        }
    }

    /** Appends bytes already in the tensor's dtype (little-endian), e.g. copied from another checkpoint. */
    public void writeRaw(String name, ByteBuffer raw) {
        Slot slot = slot(name);
        if (raw.remaining() > slot.byteLength - slot.bytesWritten) {
            throw new IllegalStateException("tensor '" + name + "': " + raw.remaining() + " bytes do not fit in the "
                    + (slot.byteLength - slot.bytesWritten) + " bytes left");
        }
        ByteBuffer view = raw.duplicate();
        writeAt(slot, view);
        raw.position(raw.limit());
    }

    private Slot floatSlot(String name, long incoming) {
        Slot slot = slot(name);
        SafetensorsDtype dtype = slot.tensor.dtype();
        if (!dtype.readableAsFloat32()) {
            throw new IllegalArgumentException("tensor '" + name + "' is " + dtype + "; float values can only be written to F32, F16 or BF16");
        }
        long left = (slot.byteLength - slot.bytesWritten) / dtype.byteSize();
        if (incoming > left) {
            throw new IllegalStateException("tensor '" + name + "': " + incoming + " values do not fit in the " + left + " left");
        }
        return slot;
    }

    private Slot slot(String name) {
        if (closed) {
            throw new IllegalStateException(target + ": writer is closed");
        }
        Slot slot = slots.get(name);
        if (slot == null) {
            throw new IllegalArgumentException("tensor '" + name + "' was not planned for " + target);
        }
        return slot;
    }

    /** Narrows {@code floats[0..n)} into the byte buffer and writes it at the tensor's fill position. */
    private void encodeAndWrite(Slot slot, int n) {
        bytes.clear();
        switch (slot.tensor.dtype()) {
            case F32:
                bytes.asFloatBuffer().put(floats, 0, n);
                bytes.limit(n * 4);
                break;
            case F16:
                for (int i = 0; i < n; i++) {
                    bytes.putShort(HalfFloats.floatToF16(floats[i]));
                }
                bytes.flip();
                break;
            case BF16:
                for (int i = 0; i < n; i++) {
                    bytes.putShort(HalfFloats.floatToBf16(floats[i]));
                }
                bytes.flip();
                break;
            default:
                throw new IllegalStateException(slot.tensor.dtype().toString());
        }
        writeAt(slot, bytes);
    }

    private void writeAt(Slot slot, ByteBuffer data) {
        int length = data.remaining();
        try {
            writeFully(channel, data, dataStart + slot.dataOffset + slot.bytesWritten);
        } catch (IOException e) {
            throw new StepwiseException(target + ": cannot write tensor '" + slot.tensor.name() + "': " + e.getMessage(), e);
        }
        slot.bytesWritten += length;
    }

    private static void writeFully(FileChannel channel, ByteBuffer data, long position) throws IOException {
        long p = position;
        while (data.hasRemaining()) {
            p += channel.write(data, p);
        }
    }

    /** Abandons the file: the temporary file is removed and the target is left as it was. */
    public void abort() {
        if (!closed) {
            closed = true;
            cleanUp(channel, temp);
        }
    }

    /**
     * Finishes the file and moves it into place. If a tensor is incomplete, the temporary file is removed and an
     * {@link IllegalStateException} names the unfinished tensors.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        List<String> unfinished = new ArrayList<>();
        for (Slot s : slots.values()) {
            if (s.bytesWritten != s.byteLength) {
                unfinished.add(s.tensor.name() + " (" + s.bytesWritten + " of " + s.byteLength + " bytes)");
            }
        }
        if (!unfinished.isEmpty()) {
            abort();
            throw new IllegalStateException(target + ": not written, tensors incomplete: " + String.join(", ", unfinished));
        }
        closed = true;
        try {
            channel.close();
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            cleanUp(channel, temp);
            throw new StepwiseException(target + ": cannot finish writing: " + e.getMessage(), e);
        }
    }

    private static void cleanUp(FileChannel channel, Path temp) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // the file is deleted next anyway
        }
        try {
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
        } catch (IOException ignored) {
            // a leftover hidden .partial file is harmless
        }
    }
}
