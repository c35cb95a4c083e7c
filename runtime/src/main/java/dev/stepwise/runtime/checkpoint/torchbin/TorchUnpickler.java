package dev.stepwise.runtime.checkpoint.torchbin;

import static dev.stepwise.runtime.checkpoint.torchbin.PickleReader.describe;
import static dev.stepwise.runtime.checkpoint.torchbin.PickleReader.printable;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.SafetensorsDtype;
import dev.stepwise.runtime.checkpoint.torchbin.PickleReader.PyFunction;
import dev.stepwise.runtime.checkpoint.torchbin.PickleReader.Tuple;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What the pickle of a {@code torch.save} state dict may refer to, and nothing more. Globals resolve against a fixed
 * allow-list ({@link #ALLOWED_GLOBALS}): {@code collections.OrderedDict}, the functions that rebuild a tensor from a
 * storage, and the typed storage classes, which only say which dtype a storage holds. Everything else — {@code
 * os.system}, {@code builtins.eval}, any other class or function — is refused by name. Nothing is ever looked up or
 * run: the "functions" below build Java records describing the tensors.
 *
 * <p>Persistent ids are {@code ('storage', storage type, key, location, element count)}; key {@code k} names the
 * archive entry {@code <prefix>data/k} that holds the storage's bytes.
 */
final class TorchUnpickler implements PickleReader.Globals, PickleReader.PersistentLoader {
    /** Typed storage classes and the dtype of their elements. */
    static final Map<String, SafetensorsDtype> STORAGE_TYPES;

    static {
        Map<String, SafetensorsDtype> types = new LinkedHashMap<>();
        types.put("FloatStorage", SafetensorsDtype.F32);
        types.put("HalfStorage", SafetensorsDtype.F16);
        types.put("BFloat16Storage", SafetensorsDtype.BF16);
        types.put("DoubleStorage", SafetensorsDtype.F64);
        types.put("LongStorage", SafetensorsDtype.I64);
        types.put("IntStorage", SafetensorsDtype.I32);
        types.put("ShortStorage", SafetensorsDtype.I16);
        types.put("CharStorage", SafetensorsDtype.I8);
        types.put("ByteStorage", SafetensorsDtype.U8);
        types.put("BoolStorage", SafetensorsDtype.BOOL);
        STORAGE_TYPES = Collections.unmodifiableMap(types);
    }

    static final String ORDERED_DICT = "collections.OrderedDict";
    static final String REBUILD_TENSOR_V2 = "torch._utils._rebuild_tensor_v2";
    static final String REBUILD_TENSOR = "torch._utils._rebuild_tensor";
    static final String REBUILD_PARAMETER = "torch._utils._rebuild_parameter";

    /** Every global a pickle may name. */
    static final List<String> ALLOWED_GLOBALS;

    static {
        List<String> allowed = new java.util.ArrayList<>(List.of(ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER));
        STORAGE_TYPES.keySet().forEach(type -> allowed.add("torch." + type));
        ALLOWED_GLOBALS = List.copyOf(allowed);
    }

    /** A typed storage class: only a dtype. */
    record StorageType(String name, SafetensorsDtype dtype) {
        @Override
        public String toString() {
            return "torch." + name;
        }
    }

    /** A storage: {@code elements} values of {@code type} at the start of zip entry {@code entry}. */
    record Storage(String key, StorageType type, long elements, ZipDirectory.Entry entry) {
        @Override
        public String toString() {
            return "storage '" + printable(key) + "'";
        }
    }

    /** A tensor as the pickle describes it; checked against its storage once its name is known. */
    record TensorRef(Storage storage, long offset, long[] shape, long[] stride) {
        @Override
        public String toString() {
            return "a tensor";
        }
    }

    /** An allowed function: its qualified name (for errors) and what it builds. */
    private record Function(String name, PyFunction body) implements PyFunction {
        @Override
        public Object call(Tuple args) {
            return body.call(args);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private final String file;
    private final String prefix;
    private final Map<String, ZipDirectory.Entry> entries;
    private final Map<String, Storage> storages = new HashMap<>();

    /**
     * @param file    names the file in errors
     * @param prefix  the archive's top folder with its slash, e.g. {@code "pytorch_model/"}
     * @param entries the archive's entries by name
     */
    TorchUnpickler(String file, String prefix, Map<String, ZipDirectory.Entry> entries) {
        this.file = file;
        this.prefix = prefix;
        this.entries = entries;
    }

    /** Unpickles {@code pickle} (the archive's {@code data.pkl}, named {@code entry} in errors). */
    Object read(String entry, ByteBuffer pickle) {
        return PickleReader.read(file, entry, pickle, this, this);
    }

    @Override
    public Object resolve(String module, String name) {
        String qualified = module + "." + name;
        switch (qualified) {
            case ORDERED_DICT:
                return new Function(qualified, this::orderedDict);
            case REBUILD_TENSOR_V2:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                return new Function(qualified, args -> rebuildTensor(qualified, args, 6, 7));
            case REBUILD_TENSOR:
                // (storage, storage_offset, size, stride): what torch < 1.0 wrote
                return new Function(qualified, args -> rebuildTensor(qualified, args, 4, 4));
            case REBUILD_PARAMETER:
                // (data, requires_grad, backward_hooks): an nn.Parameter is just its tensor here
                return new Function(qualified, args -> rebuildParameter(qualified, args));
            default:
                break;
        }
        if (module.equals("torch") && STORAGE_TYPES.containsKey(name)) {
            return new StorageType(name, STORAGE_TYPES.get(name));
        }
        if (module.equals("torch") && name.endsWith("Storage")) {
            throw new StepwiseException(file + ": tensors of storage type '" + printable(qualified) + "' are not supported (supported: "
                    + String.join(", ", STORAGE_TYPES.keySet()) + ")");
        }
        throw new StepwiseException(file + ": refusing pickle global '" + printable(qualified)
                + "' (only tensor-rebuilding calls are allowed)");
    }

    private Object orderedDict(Tuple args) {
        if (args.size() != 0) {
            throw new StepwiseException(file + ": " + ORDERED_DICT + " called with " + args.size()
                    + " argument(s); a pickled OrderedDict is built empty and then filled");
        }
        return new LinkedHashMap<Object, Object>();
    }

    private TensorRef rebuildTensor(String function, Tuple args, int minArgs, int maxArgs) {
        if (args.size() < minArgs || args.size() > maxArgs) {
            throw new StepwiseException(file + ": " + function + " called with " + args.size() + " arguments, expected "
                    + (minArgs == maxArgs ? "" + minArgs : minArgs + " or " + maxArgs)
                    + " (storage, storage_offset, size, stride" + (minArgs > 4 ? ", requires_grad, backward_hooks" : "") + ")");
        }
        if (!(args.get(0) instanceof Storage storage)) {
            throw new StepwiseException(file + ": " + function + " needs a storage as its first argument, found "
                    + describe(args.get(0)));
        }
        long offset = longArgument(function, "storage_offset", args.get(1));
        long[] shape = longsArgument(function, "size", args.get(2));
        long[] stride = longsArgument(function, "stride", args.get(3));
        if (shape.length != stride.length) {
            throw new StepwiseException(file + ": " + function + " got size " + Arrays.toString(shape) + " but stride "
                    + Arrays.toString(stride) + " (different lengths)");
        }
        if (args.size() > 4) {
            if (!(args.get(4) instanceof Boolean)) {
                throw new StepwiseException(file + ": " + function + " needs a bool requires_grad, found " + describe(args.get(4)));
            }
            if (!(args.get(5) instanceof Map)) {
                throw new StepwiseException(file + ": " + function + " needs a dict of backward hooks, found " + describe(args.get(5)));
            }
        }
        return new TensorRef(storage, offset, shape, stride);
    }

    private TensorRef rebuildParameter(String function, Tuple args) {
        if (args.size() != 3 || !(args.get(0) instanceof TensorRef tensor)) {
            throw new StepwiseException(file + ": " + function + " expects (tensor, requires_grad, backward_hooks), found "
                    + args.size() + " argument(s) starting with " + (args.size() > 0 ? describe(args.get(0)) : "nothing"));
        }
        return tensor;
    }

    private long longArgument(String function, String argument, Object value) {
        if (!(value instanceof Long l) || l < 0) {
            throw new StepwiseException(file + ": " + function + " needs a non-negative integer " + argument + ", found "
                    + describe(value));
        }
        return l;
    }

    private long[] longsArgument(String function, String argument, Object value) {
        if (!(value instanceof Tuple tuple)) {
            throw new StepwiseException(file + ": " + function + " needs a tuple " + argument + ", found " + describe(value));
        }
        long[] out = new long[tuple.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(tuple.get(i) instanceof Long l) || l < 0) {
                throw new StepwiseException(file + ": " + function + " needs non-negative integers in " + argument
                        + ", found " + describe(tuple.get(i)));
            }
            out[i] = l;
        }
        return out;
    }

    @Override
    public Object load(Object pid) {
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))
                || !(t.get(1) instanceof StorageType type) || !(t.get(2) instanceof String key)
                || !(t.get(3) instanceof String) || !(t.get(4) instanceof Long elements) || elements < 0) {
            throw new StepwiseException(file + ": unsupported persistent id " + describePid(pid)
                    + " (expected ('storage', storage type, key, location, size))");
        }
        Storage known = storages.get(key);
        if (known != null) {
            if (!known.type().equals(type) || known.elements() != elements) {
                throw new StepwiseException(file + ": storage '" + printable(key) + "' is described twice, as " + known.elements()
                        + " × " + known.type() + " and as " + elements + " × " + type);
            }
            return known;
        }
        String entryName = prefix + "data/" + key;
        ZipDirectory.Entry entry = entries.get(entryName);
        if (entry == null) {
            throw new StepwiseException(file + ": storage '" + printable(key) + "' is missing: the archive has no entry '"
                    + printable(entryName) + "'");
        }
        if (!entry.stored()) {
            throw new StepwiseException(file + ": archive entry '" + printable(entryName) + "' is compressed (zip method "
                    + entry.method() + "); torch.save stores tensor data uncompressed so it can be memory-mapped"
                    + " (re-save the checkpoint with torch.save, or as safetensors)");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(elements, type.dtype().byteSize());
        } catch (ArithmeticException e) {
            bytes = Long.MAX_VALUE;
        }
        if (entry.size() < bytes) {
            throw new StepwiseException(file + ": storage '" + printable(key) + "' ('" + printable(entryName) + "') holds " + entry.size()
                    + " bytes, but its persistent id declares " + elements + " × " + type + " (" + (bytes == Long.MAX_VALUE
                    ? "too many" : "" + bytes) + " bytes); truncated or corrupt file?");
        }
        Storage storage = new Storage(key, type, elements, entry);
        storages.put(key, storage);
        return storage;
    }

    private static String describePid(Object pid) {
        if (pid instanceof Tuple t) {
            return t.items().stream().map(PickleReader::describe).collect(Collectors.joining(", ", "(", ")"));
        }
        return describe(pid);
    }
}
