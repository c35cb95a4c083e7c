package dev.stepwise.runtime.checkpoint.torchbin;

import dev.stepwise.runtime.checkpoint.HalfFloats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds what {@code torch.save(state_dict, "<name>.bin")} writes, without Python: the pickle of an
 * {@code OrderedDict} of tensors with the opcodes CPython's pickler emits at protocol 2 (torch's default), each tensor
 * as {@code torch._utils._rebuild_tensor_v2(<persistent id of its storage>, offset, size, stride, False,
 * OrderedDict())}, followed by the {@code _metadata} attribute set with BUILD; then the zip around it.
 */
public final class TorchSave {
    /** A storage: typed elements, written as entry {@code data/<key>}. */
    record Storage(String key, String type, long elements, byte[] bytes) {
    }

    /** A tensor: a view of a storage. */
    record Tensor(String name, String storageKey, long offset, long[] shape, long[] stride) {
    }

    private final Map<String, Storage> storages = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private boolean orderedDict = true;
    private final List<String> metadataModules = new ArrayList<>(List.of(""));
    private boolean legacyRebuild;
    private boolean asParameters;
    private boolean deflateData;
    private String byteOrder = "little";

    /** Tensors as {@code _rebuild_tensor(storage, offset, size, stride)}, as torch before 1.0 wrote them. */
    public TorchSave legacyRebuild() {
        legacyRebuild = true;
        return this;
    }

    /** Tensors wrapped in {@code _rebuild_parameter(tensor, True, OrderedDict())}, as saving nn.Parameters does. */
    public TorchSave asParameters() {
        asParameters = true;
        return this;
    }

    /** Storage entries DEFLATE-compressed in the zip (torch.save never does this). */
    public TorchSave deflateData() {
        deflateData = true;
        return this;
    }

    /** The content of the {@code byteorder} entry ("little" unless changed). */
    public TorchSave byteOrder(String order) {
        byteOrder = order;
        return this;
    }

    /** A plain {@code dict} at the top, as transformers' sharding writes, instead of the state dict's OrderedDict. */
    public TorchSave plainDict() {
        orderedDict = false;
        return this;
    }

    /** Adds a storage of raw bytes (the key becomes its archive entry name). */
    public TorchSave storage(String key, String type, long elements, byte[] bytes) {
        storages.put(key, new Storage(key, type, elements, bytes));
        return this;
    }

    /** Adds a tensor viewing an existing storage. */
    public TorchSave view(String name, String storageKey, long offset, long[] shape, long[] stride) {
        tensors.add(new Tensor(name, storageKey, offset, shape, stride));
        return this;
    }

    /** A tensor with its own storage, contiguous. */
    private TorchSave own(String name, String type, long[] shape, long elements, byte[] bytes) {
        String key = String.valueOf(storages.size());
        storage(key, type, elements, bytes);
        return view(name, key, 0, shape, contiguousStrides(shape));
    }

    public TorchSave f32(String name, long[] shape, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return own(name, "FloatStorage", shape, values.length, b.array());
    }

    public TorchSave f16(String name, long[] shape, float... values) {
        return halves(name, "HalfStorage", shape, values, false);
    }

    public TorchSave bf16(String name, long[] shape, float... values) {
        return halves(name, "BFloat16Storage", shape, values, true);
    }

    private TorchSave halves(String name, String type, long[] shape, float[] values, boolean bf16) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(bf16 ? HalfFloats.floatToBf16(v) : HalfFloats.floatToF16(v));
        }
        return own(name, type, shape, values.length, b.array());
    }

    public TorchSave i64(String name, long[] shape, long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return own(name, "LongStorage", shape, values.length, b.array());
    }

    /** Also lists a submodule in {@code _metadata}, as nn.Module.state_dict() does for every module. */
    public TorchSave metadataModule(String prefix) {
        metadataModules.add(prefix);
        return this;
    }

    public static long[] contiguousStrides(long[] shape) {
        long[] stride = new long[shape.length];
        long step = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = step;
            step *= shape[i];
        }
        return stride;
    }

    public static long[] shape(long... dims) {
        return dims;
    }

    /** The pickle ({@code data.pkl}). */
    public byte[] pickle() {
        PickleBytes p = new PickleBytes().proto(2);
        if (orderedDict) {
            p.memoGlobal("collections", "OrderedDict").op(PickleReader.EMPTY_TUPLE).op(PickleReader.REDUCE).put();
        } else {
            p.op(PickleReader.EMPTY_DICT).put();
        }
        // Python's pickler writes one item with SETITEM and more in MARK ... SETITEMS batches of 1000.
        for (int start = 0; start < tensors.size(); start += 1000) {
            List<Tensor> batch = tensors.subList(start, Math.min(tensors.size(), start + 1000));
            if (batch.size() > 1) {
                p.op(PickleReader.MARK);
            }
            for (Tensor t : batch) {
                p.memoString(t.name());
                tensor(p, t);
            }
            p.op(batch.size() > 1 ? PickleReader.SETITEMS : PickleReader.SETITEM);
        }
        if (orderedDict) {
            // The instance dict {'_metadata': OrderedDict({prefix: {'version': 1}, ...})}, set by BUILD.
            p.op(PickleReader.EMPTY_DICT).put().memoString("_metadata");
            p.memoGlobal("collections", "OrderedDict").op(PickleReader.EMPTY_TUPLE).op(PickleReader.REDUCE).put();
            if (metadataModules.size() > 1) {
                p.op(PickleReader.MARK);
            }
            for (String module : metadataModules) {
                p.memoString(module).op(PickleReader.EMPTY_DICT).put().memoString("version").integer(1).op(PickleReader.SETITEM);
            }
            p.op(metadataModules.size() > 1 ? PickleReader.SETITEMS : PickleReader.SETITEM);
            p.op(PickleReader.SETITEM).op(PickleReader.BUILD);
        }
        return p.op(PickleReader.STOP).bytes();
    }

    private void tensor(PickleBytes p, Tensor t) {
        Storage s = storages.get(t.storageKey());
        if (asParameters) {
            p.memoGlobal("torch._utils", "_rebuild_parameter");
        }
        p.memoGlobal("torch._utils", legacyRebuild ? "_rebuild_tensor" : "_rebuild_tensor_v2");
        p.op(PickleReader.MARK);
        // The persistent id ('storage', torch.<Type>Storage, key, 'cpu', element count), then BINPERSID.
        p.op(PickleReader.MARK).memoString("storage").memoGlobal("torch", s == null ? "FloatStorage" : s.type())
                .memoString(t.storageKey()).memoString("cpu").integer(s == null ? 0 : s.elements())
                .op(PickleReader.TUPLE).put().op(PickleReader.BINPERSID);
        p.integer(t.offset());
        tuple(p, t.shape());
        tuple(p, t.stride());
        if (!legacyRebuild) {
            p.op(PickleReader.NEWFALSE);
            p.memoGlobal("collections", "OrderedDict").op(PickleReader.EMPTY_TUPLE).op(PickleReader.REDUCE).put();
        }
        p.op(PickleReader.TUPLE).put().op(PickleReader.REDUCE).put();
        if (asParameters) {
            p.op(PickleReader.NEWTRUE);
            p.memoGlobal("collections", "OrderedDict").op(PickleReader.EMPTY_TUPLE).op(PickleReader.REDUCE).put();
            p.op(PickleReader.TUPLE3).put().op(PickleReader.REDUCE).put();
        }
    }

    private static void tuple(PickleBytes p, long[] values) {
        if (values.length == 0) {
            p.op(PickleReader.EMPTY_TUPLE); // the empty tuple is a singleton: never memoized
            return;
        }
        if (values.length > 3) {
            p.op(PickleReader.MARK);
        }
        for (long v : values) {
            p.integer(v);
        }
        p.op(values.length > 3 ? PickleReader.TUPLE : PickleReader.TUPLE1 + values.length - 1).put();
    }

    /** The archive entries, in the order torch 2.x writes them, under top folder {@code archiveName}. */
    TorchZip zip(String archiveName, byte[] pickle) {
        String prefix = archiveName + "/";
        TorchZip zip = new TorchZip().add(prefix + "data.pkl", pickle).add(prefix + ".format_version", "1")
                .add(prefix + ".storage_alignment", "64").add(prefix + "byteorder", byteOrder);
        for (Storage s : storages.values()) {
            if (deflateData) {
                zip.addDeflated(prefix + "data/" + s.key(), s.bytes());
            } else {
                zip.add(prefix + "data/" + s.key(), s.bytes());
            }
        }
        return zip.add(prefix + "version", "3\n").add(prefix + ".data/serialization_id", "0123456789012345678901234567890123456789");
    }

    /** Writes {@code file} as torch.save would, the top folder named after the file without its extension. */
    public Path write(Path file) throws IOException {
        return write(file, pickle());
    }

    /** Writes {@code file} with another pickle in place of the state dict's (to test hostile or broken ones). */
    public Path write(Path file, byte[] pickle) throws IOException {
        String stem = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        return Files.write(file, zip(stem, pickle).bytes());
    }
}
