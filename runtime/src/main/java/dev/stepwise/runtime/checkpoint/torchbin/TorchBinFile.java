package dev.stepwise.runtime.checkpoint.torchbin;

import static dev.stepwise.runtime.checkpoint.torchbin.PickleReader.describe;
import static dev.stepwise.runtime.checkpoint.torchbin.PickleReader.printable;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.HalfFloats;
import dev.stepwise.runtime.checkpoint.PositionalRead;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.TensorFile;
import dev.stepwise.runtime.checkpoint.torchbin.TorchUnpickler.TensorRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A PyTorch checkpoint written by {@code torch.save} (≥ 1.6), such as {@code pytorch_model.bin}, read without Python.
 *
 * <p>The file is a zip archive whose entries sit under one top folder: {@code <name>/data.pkl} pickles the state dict,
 * {@code <name>/data/<key>} holds each storage's raw little-endian bytes, stored uncompressed (and 64-byte aligned),
 * plus small entries such as {@code version} and {@code byteorder}. The pickle is read by a restricted reader that
 * runs nothing: it may only name the globals in {@link #allowedGlobals()} (see {@link TorchUnpickler}); anything else is
 * refused with an error naming the global. Every tensor must be a contiguous row-major view inside its storage; its
 * bytes are then memory-mapped straight out of the archive, so F32 tensors are handed out without a copy.
 *
 * <p>The legacy format of torch &lt; 1.6 (a bare pickle stream, not a zip) is refused with a message saying so.
 */
public final class TorchBinFile implements TensorFile {
    /** {@code data.pkl} of a large model is a few MB; more means a foreign or corrupt file. */
    static final long MAX_PICKLE_BYTES = 256L * 1024 * 1024;

    /** One tensor: where its bytes lie in the file. */
    private record Tensor(String name, SafetensorsDtype dtype, long[] shape, long fileOffset, long byteLength,
            long elementCount) {
    }

    private final Path path;
    private final FileChannel channel;
    private final Map<String, Tensor> tensors;

    private TorchBinFile(Path path, FileChannel channel, Map<String, Tensor> tensors) {
        this.path = path;
        this.channel = channel;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** The globals a checkpoint's pickle may name; any other is refused. */
    public static List<String> allowedGlobals() {
        return TorchUnpickler.ALLOWED_GLOBALS;
    }

    public static TorchBinFile open(Path path) {
        FileChannel channel = PositionalRead.open(path);
        try {
            return new TorchBinFile(path, channel, read(path, channel));
        } catch (RuntimeException e) {
            PositionalRead.close(channel);
            throw e;
        }
    }

    private static Map<String, Tensor> read(Path path, FileChannel channel) {
        String file = path.toString();
        checkMagic(path, channel);
        Map<String, ZipDirectory.Entry> entries = ZipDirectory.read(file, channel).entries();
        String prefix = archivePrefix(path, entries);
        checkByteOrder(path, channel, entries.get(prefix + "byteorder"));

        ZipDirectory.Entry pickleEntry = entries.get(prefix + "data.pkl");
        ByteBuffer pickle = readSmallEntry(path, channel, pickleEntry, MAX_PICKLE_BYTES);
        Object root = new TorchUnpickler(file, prefix, entries).read(pickleEntry.name(), pickle);
        if (!(root instanceof Map<?, ?> stateDict)) {
            throw new StepwiseException(path + ": the pickle holds " + describe(root)
                    + ", expected a state dict (a dict of tensor name → tensor)");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : stateDict.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw new StepwiseException(path + ": state dict key " + describe(e.getKey())
                        + " is not a string (expected tensor names)");
            }
            if (!(e.getValue() instanceof TensorRef ref)) {
                throw new StepwiseException(path + ": state dict entry '" + printable(name) + "' is " + describe(e.getValue())
                        + ", not a tensor (expected a dict of tensor name → tensor)");
            }
            tensors.put(name, check(path, name, ref));
        }
        return tensors;
    }

    private static void checkMagic(Path path, FileChannel channel) {
        ByteBuffer head = ByteBuffer.allocate(4);
        try {
            while (head.hasRemaining() && channel.read(head, head.position()) >= 0) {
                // keep reading until 4 bytes or end of file
            }
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot read: " + e.getMessage(), e);
        }
        head.flip();
        if (head.remaining() == 4 && head.getInt(0) == Integer.reverseBytes(ZipDirectory.LOCAL_HEADER)) {
            return;
        }
        if (head.remaining() > 0 && (head.get(0) & 0xff) == PickleReader.PROTO) {
            throw new StepwiseException(path + ": this is the legacy (before PyTorch 1.6) torch.save format, a bare pickle"
                    + " stream, which is not supported: re-save it with a current torch.save, or as safetensors");
        }
        throw new StepwiseException(path + ": not a PyTorch checkpoint: expected a torch.save zip archive (starting with"
                + " 'PK'), found " + hex(head));
    }

    private static String hex(ByteBuffer head) {
        if (!head.hasRemaining()) {
            return "an empty file";
        }
        StringBuilder s = new StringBuilder("bytes");
        for (int i = head.position(); i < head.limit(); i++) {
            s.append(String.format(" %02x", head.get(i) & 0xff));
        }
        return s.toString();
    }

    /** The top folder every entry sits under ({@code "pytorch_model/"}), found from its {@code data.pkl}. */
    private static String archivePrefix(Path path, Map<String, ZipDirectory.Entry> entries) {
        String prefix = null;
        for (String name : entries.keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
                if (prefix != null) {
                    throw new StepwiseException(path + ": the archive holds two pickles, '" + printable(prefix) + "data.pkl' and '"
                            + printable(name) + "'; expected one torch.save archive");
                }
                prefix = name.substring(0, slash + 1);
            }
        }
        if (prefix == null) {
            throw new StepwiseException(path + ": the zip archive has no '<name>/data.pkl' entry; not a torch.save checkpoint"
                    + " (a TorchScript archive or another zip?)");
        }
        return prefix;
    }

    private static void checkByteOrder(Path path, FileChannel channel, ZipDirectory.Entry entry) {
        if (entry == null) {
            return; // written by torch < 2.1: always little-endian
        }
        ByteBuffer bytes = readSmallEntry(path, channel, entry, 16);
        String order = StandardCharsets.US_ASCII.decode(bytes).toString().trim();
        if (!order.equals("little")) {
            throw new StepwiseException(path + ": tensors are stored with byte order '" + printable(order)
                    + "' ('" + printable(entry.name()) + "'); only little-endian checkpoints are supported");
        }
    }

    private static ByteBuffer readSmallEntry(Path path, FileChannel channel, ZipDirectory.Entry entry, long maxBytes) {
        if (!entry.stored()) {
            throw new StepwiseException(path + ": archive entry '" + printable(entry.name()) + "' is compressed (zip method "
                    + entry.method() + "); torch.save stores every entry uncompressed (re-save the checkpoint with"
                    + " torch.save, or as safetensors)");
        }
        if (entry.size() > maxBytes) {
            throw new StepwiseException(path + ": archive entry '" + printable(entry.name()) + "' is " + entry.size()
                    + " bytes, more than the " + maxBytes + " expected (corrupt or foreign file?)");
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) entry.size());
        try {
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, entry.dataOffset() + buffer.position()) < 0) {
                    throw new StepwiseException(path + ": archive entry '" + printable(entry.name()) + "' runs past the end of the file"
                            + " (truncated file?)");
                }
            }
        } catch (IOException e) {
            throw new StepwiseException(path + ": cannot read '" + printable(entry.name()) + "': " + e.getMessage(), e);
        }
        return buffer.flip();
    }

    /** Checks a tensor against its storage: contiguous, row-major, inside the storage's bytes. */
    private static Tensor check(Path path, String name, TensorRef ref) {
        String where = path + ": tensor '" + printable(name) + "'";
        long[] shape = ref.shape();
        long elements;
        try {
            elements = 1;
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
        } catch (ArithmeticException e) {
            throw new StepwiseException(where + ": shape " + Arrays.toString(shape) + " has too many elements");
        }
        long[] contiguous = new long[shape.length];
        long step = 1;
        boolean isContiguous = true;
        for (int i = shape.length - 1; i >= 0; i--) {
            contiguous[i] = step;
            // A dimension of size 1 is never stepped over, so its stride does not matter (as in PyTorch).
            if (shape[i] != 1 && ref.stride()[i] != step) {
                isContiguous = false;
            }
            step *= Math.max(shape[i], 1);
        }
        if (!isContiguous && elements > 0) {
            throw new StepwiseException(where + ": strides " + Arrays.toString(ref.stride()) + " for shape "
                    + Arrays.toString(shape) + " are not contiguous row-major (expected " + Arrays.toString(contiguous)
                    + "); only contiguous tensors are supported (save tensor.contiguous())");
        }
        TorchUnpickler.Storage storage = ref.storage();
        if (ref.offset() > storage.elements() || elements > storage.elements() - ref.offset()) {
            throw new StepwiseException(where + ": needs elements [" + ref.offset() + ", " + (ref.offset() + elements)
                    + ") of storage '" + storage.key() + "', which holds only " + storage.elements() + " × "
                    + storage.type() + " (truncated or corrupt file?)");
        }
        int size = storage.type().dtype().byteSize();
        return new Tensor(name, storage.type().dtype(), shape, storage.entry().dataOffset() + ref.offset() * size,
                elements * size, elements);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    private Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new StepwiseException(path + ": no tensor '" + printable(name) + "'");
        }
        return t;
    }

    @Override
    public SafetensorsDtype dtype(String name) {
        return tensor(name).dtype();
    }

    @Override
    public long[] shape(String name) {
        return tensor(name).shape().clone();
    }

    @Override
    public ByteBuffer raw(String name) {
        Tensor t = tensor(name);
        return PositionalRead.map(channel, path, printable(name), t.fileOffset(), t.byteLength());
    }

    @Override
    public void readRaw(String name, long offset, ByteBuffer dst) {
        Tensor t = tensor(name);
        PositionalRead.read(channel, path, printable(name), t.fileOffset(), t.byteLength(), offset, dst);
    }

    @Override
    public ByteBuffer float32(String name) {
        Tensor t = tensor(name);
        return HalfFloats.float32(path, printable(name), t.dtype(), t.elementCount(), () -> raw(name));
    }

    @Override
    public void close() {
        PositionalRead.close(channel);
    }


    @Override
    public String toString() {
        return path.toString();
    }
}
