package dev.stepwise.runtime.checkpoint.torchbin;

import dev.stepwise.runtime.StepwiseException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a pickle (protocols 2 to 5) without ever running anything. The opcodes that build plain data — ints, floats,
 * strings, bytes, tuples, lists, dicts, the memo, frames — are interpreted here. The three that could run code are
 * handed to the caller, which decides what they may mean:
 * <ul>
 *   <li>{@code GLOBAL} / {@code STACK_GLOBAL} ask {@link Globals#resolve} for a module attribute: the caller answers
 *       from its allow-list with a Java stand-in, or throws;</li>
 *   <li>{@code REDUCE} applies a stand-in only if it is a {@link PyFunction};</li>
 *   <li>{@code BINPERSID} passes the persistent id to a {@link PersistentLoader}.</li>
 * </ul>
 * {@code BUILD} is accepted on dicts only, and drops the attributes it would set (an {@code OrderedDict} state dict
 * carries its {@code _metadata} that way). Opcodes that instantiate classes or use the extension registry
 * ({@code INST}, {@code OBJ}, {@code NEWOBJ}, {@code NEWOBJ_EX}, {@code EXT1/2/4}) are refused, and so is every
 * other opcode this class does not interpret (protocol-0 text opcodes, sets, out-of-band buffers).
 *
 * <p>Values: {@code None} → {@link #NONE}, bool → {@link Boolean}, int → {@link Long} ({@link BigInteger} when it does
 * not fit), float → {@link Double}, str → {@link String}, bytes → {@link Bytes}, tuple → {@link Tuple}, list →
 * {@link ArrayList}, dict → {@link LinkedHashMap} (insertion order kept); everything else is whatever the caller's
 * stand-ins return.
 */
final class PickleReader {
    /** Python's {@code None}. */
    enum None {
        NONE
    }

    static final None NONE = None.NONE;

    /** A Python tuple. */
    record Tuple(List<Object> items) {
        Tuple {
            items = List.copyOf(items);
        }

        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** A Python {@code bytes} value. */
    record Bytes(byte[] value) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes b && Arrays.equals(value, b.value);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "bytes(" + value.length + ")";
        }
    }

    /** A stand-in that {@code REDUCE} may call. */
    @FunctionalInterface
    interface PyFunction {
        Object call(Tuple args);
    }

    /** Resolves {@code module.name} to a stand-in, or throws a {@link StepwiseException} saying why it is refused. */
    @FunctionalInterface
    interface Globals {
        Object resolve(String module, String name);
    }

    /** Turns a persistent id (whatever {@code BINPERSID} found on the stack) into a value, or throws. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid);
    }

    /** Pickle protocols this reader understands. */
    static final int HIGHEST_PROTOCOL = 5;
    /** Longer {@code LONG4} integers are refused: nothing a checkpoint holds needs more than a few bytes. */
    static final int MAX_LONG_BYTES = 64;

    // Opcodes, as named by Python's pickletools.
    static final int MARK = '(';
    static final int STOP = '.';
    static final int POP = '0';
    static final int POP_MARK = '1';
    static final int DUP = '2';
    static final int BININT = 'J';
    static final int BININT1 = 'K';
    static final int BININT2 = 'M';
    static final int NONE_OP = 'N';
    static final int BINPERSID = 'Q';
    static final int REDUCE = 'R';
    static final int BINSTRING = 'T';
    static final int SHORT_BINSTRING = 'U';
    static final int BINUNICODE = 'X';
    static final int APPEND = 'a';
    static final int BUILD = 'b';
    static final int GLOBAL = 'c';
    static final int DICT = 'd';
    static final int EMPTY_DICT = '}';
    static final int APPENDS = 'e';
    static final int BINGET = 'h';
    static final int LONG_BINGET = 'j';
    static final int LIST = 'l';
    static final int EMPTY_LIST = ']';
    static final int BINPUT = 'q';
    static final int LONG_BINPUT = 'r';
    static final int SETITEM = 's';
    static final int TUPLE = 't';
    static final int EMPTY_TUPLE = ')';
    static final int SETITEMS = 'u';
    static final int BINFLOAT = 'G';
    static final int BINBYTES = 'B';
    static final int SHORT_BINBYTES = 'C';
    static final int PROTO = 0x80;
    static final int NEWOBJ = 0x81;
    static final int EXT1 = 0x82;
    static final int EXT2 = 0x83;
    static final int EXT4 = 0x84;
    static final int TUPLE1 = 0x85;
    static final int TUPLE2 = 0x86;
    static final int TUPLE3 = 0x87;
    static final int NEWTRUE = 0x88;
    static final int NEWFALSE = 0x89;
    static final int LONG1 = 0x8a;
    static final int LONG4 = 0x8b;
    static final int SHORT_BINUNICODE = 0x8c;
    static final int BINUNICODE8 = 0x8d;
    static final int BINBYTES8 = 0x8e;
    static final int NEWOBJ_EX = 0x92;
    static final int STACK_GLOBAL = 0x93;
    static final int MEMOIZE = 0x94;
    static final int FRAME = 0x95;
    static final int INST = 'i';
    static final int OBJ = 'o';

    /** Names of opcodes this reader does not interpret, so a refusal can say what it saw. */
    private static final Map<Integer, String> OTHER_OPCODES = Map.ofEntries(
            Map.entry((int) 'I', "INT"), Map.entry((int) 'L', "LONG"), Map.entry((int) 'S', "STRING"),
            Map.entry((int) 'V', "UNICODE"), Map.entry((int) 'F', "FLOAT"), Map.entry((int) 'g', "GET"),
            Map.entry((int) 'p', "PUT"), Map.entry((int) 'P', "PERSID"), Map.entry(0x8f, "EMPTY_SET"),
            Map.entry(0x90, "ADDITEMS"), Map.entry(0x91, "FROZENSET"), Map.entry(0x96, "BYTEARRAY8"),
            Map.entry(0x97, "NEXT_BUFFER"), Map.entry(0x98, "READONLY_BUFFER"));
    private static final Map<Integer, String> OBJECT_BUILDERS = Map.of(
            INST, "INST", OBJ, "OBJ", NEWOBJ, "NEWOBJ", NEWOBJ_EX, "NEWOBJ_EX", EXT1, "EXT1", EXT2, "EXT2", EXT4, "EXT4");

    private final String file;
    private final String entry;
    private final ByteBuffer in;
    private final Globals globals;
    private final PersistentLoader persistentLoader;
    private final List<Object> stack = new ArrayList<>();
    /** Stack heights at each open MARK. */
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    /** Where the opcode being interpreted starts, for errors. */
    private int opcodeStart;

    private PickleReader(String file, String entry, ByteBuffer pickle, Globals globals, PersistentLoader persistentLoader) {
        this.file = file;
        this.entry = entry;
        this.in = pickle.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.globals = globals;
        this.persistentLoader = persistentLoader;
    }

    /**
     * Reads one pickled value from {@code pickle} (position to limit).
     *
     * @param file  names the file in errors
     * @param entry names the pickle inside the file in errors (e.g. the zip entry), with the byte offset
     */
    static Object read(String file, String entry, ByteBuffer pickle, Globals globals, PersistentLoader persistentLoader) {
        return new PickleReader(file, entry, pickle, globals, persistentLoader).run();
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) {
                opcodeStart = in.position();
                throw fail("pickle ends without its STOP opcode (truncated file?)");
            }
            opcodeStart = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case PROTO -> {
                    int protocol = u8();
                    if (protocol > HIGHEST_PROTOCOL) {
                        throw fail("pickle protocol " + protocol + " is newer than the highest known, " + HIGHEST_PROTOCOL);
                    }
                }
                case FRAME -> {
                    long frameLength = in.getLong(need(8));
                    if (frameLength < 0 || frameLength > in.remaining()) {
                        throw fail("pickle frame of " + Long.toUnsignedString(frameLength) + " bytes runs past the end"
                                + " (truncated file?)");
                    }
                }
                case STOP -> {
                    Object result = pop();
                    return result;
                }
                case MARK -> marks.add(stack.size());
                case POP -> {
                    if (stack.size() > markBase()) {
                        pop();
                    } else {
                        popMark();
                    }
                }
                case POP_MARK -> popMark();
                case DUP -> push(peek());
                case NONE_OP -> push(NONE);
                case NEWTRUE -> push(Boolean.TRUE);
                case NEWFALSE -> push(Boolean.FALSE);
                case BININT -> push((long) in.getInt(need(4)));
                case BININT1 -> push((long) u8());
                case BININT2 -> push((long) (in.getShort(need(2)) & 0xffff));
                case LONG1 -> push(littleEndianInteger(u8()));
                case LONG4 -> {
                    int length = in.getInt(need(4));
                    if (length < 0 || length > MAX_LONG_BYTES) {
                        throw fail("LONG4 integer of " + Integer.toUnsignedString(length) + " bytes is longer than the "
                                + MAX_LONG_BYTES + " allowed");
                    }
                    push(littleEndianInteger(length));
                }
                case BINFLOAT -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong(need(8))))); // big-endian
                case BINUNICODE -> push(utf8(length(u32())));
                case SHORT_BINUNICODE -> push(utf8(u8()));
                case BINUNICODE8 -> push(utf8(length(in.getLong(need(8)))));
                case BINSTRING -> push(latin1(length(in.getInt(need(4)))));
                case SHORT_BINSTRING -> push(latin1(u8()));
                case BINBYTES -> push(new Bytes(bytes(length(u32()))));
                case SHORT_BINBYTES -> push(new Bytes(bytes(u8())));
                case BINBYTES8 -> push(new Bytes(bytes(length(in.getLong(need(8))))));
                case EMPTY_TUPLE -> push(new Tuple(List.of()));
                case TUPLE -> push(new Tuple(popMark()));
                case TUPLE1, TUPLE2, TUPLE3 -> push(new Tuple(popN(op - TUPLE1 + 1)));
                case EMPTY_LIST -> push(new ArrayList<>());
                case LIST -> push(new ArrayList<>(popMark()));
                case APPEND -> {
                    Object value = pop();
                    list(peek(), "APPEND").add(value);
                }
                case APPENDS -> {
                    List<Object> values = popMark();
                    list(peek(), "APPENDS").addAll(values);
                }
                case EMPTY_DICT -> push(new LinkedHashMap<>());
                case DICT -> {
                    Map<Object, Object> dict = new LinkedHashMap<>();
                    putPairs(dict, popMark(), "DICT");
                    push(dict);
                }
                case SETITEM -> {
                    Object value = pop();
                    Object key = pop();
                    dict(peek(), "SETITEM").put(hashable(key), value);
                }
                case SETITEMS -> {
                    List<Object> pairs = popMark();
                    putPairs(dict(peek(), "SETITEMS"), pairs, "SETITEMS");
                }
                case BINPUT -> memo.put((long) u8(), peek());
                case LONG_BINPUT -> memo.put(u32(), peek());
                case MEMOIZE -> memo.put((long) memo.size(), peek());
                case BINGET -> push(memoGet(u8()));
                case LONG_BINGET -> push(memoGet(u32()));
                case GLOBAL -> {
                    String module = line();
                    String name = line();
                    push(globals.resolve(module, name));
                }
                case STACK_GLOBAL -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail("STACK_GLOBAL needs two strings, found " + describe(module) + " and " + describe(name));
                    }
                    push(globals.resolve(m, n));
                }
                case REDUCE -> {
                    Object args = pop();
                    Object function = pop();
                    if (!(function instanceof PyFunction f)) {
                        throw fail("REDUCE on " + describe(function) + ", which is not a callable");
                    }
                    if (!(args instanceof Tuple t)) {
                        throw fail("REDUCE needs a tuple of arguments, found " + describe(args));
                    }
                    push(f.call(t));
                }
                case BUILD -> {
                    Object state = pop();
                    Object target = peek();
                    if (!(target instanceof Map) || !(state instanceof Map || state == NONE)) {
                        throw fail("refusing BUILD of " + describe(target) + " with " + describe(state)
                                + " (only a dict's attributes may be set)");
                    }
                }
                case BINPERSID -> push(persistentLoader.load(pop()));
                default -> {
                    String builder = OBJECT_BUILDERS.get(op);
                    if (builder != null) {
                        throw fail("refusing pickle opcode " + builder + " (it creates arbitrary objects;"
                                + " only tensor-rebuilding calls are allowed)");
                    }
                    String other = OTHER_OPCODES.get(op);
                    throw fail("unsupported pickle opcode " + String.format("0x%02x", op)
                            + (other != null ? " (" + other + ")" : ""));
                }
            }
        }
    }

    private int markBase() {
        return marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
    }

    private void push(Object value) {
        stack.add(value);
    }

    private Object pop() {
        if (stack.size() <= markBase()) {
            throw fail("malformed pickle: stack underflow");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        if (stack.size() <= markBase()) {
            throw fail("malformed pickle: stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popN(int n) {
        if (stack.size() - markBase() < n) {
            throw fail("malformed pickle: stack underflow");
        }
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw fail("malformed pickle: no MARK to pop");
        }
        int base = marks.remove(marks.size() - 1);
        List<Object> top = stack.subList(base, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private Object memoGet(long index) {
        Object value = memo.get(index);
        if (value == null) {
            throw fail("malformed pickle: memo entry " + index + " was never stored");
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object target, String op) {
        if (!(target instanceof ArrayList)) {
            throw fail(op + " on " + describe(target) + ", which is not a list");
        }
        return (List<Object>) target;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object target, String op) {
        if (!(target instanceof Map)) {
            throw fail(op + " on " + describe(target) + ", which is not a dict");
        }
        return (Map<Object, Object>) target;
    }

    private void putPairs(Map<Object, Object> dict, List<Object> items, String op) {
        if (items.size() % 2 != 0) {
            throw fail("malformed pickle: " + op + " with an odd number of items");
        }
        for (int i = 0; i < items.size(); i += 2) {
            dict.put(hashable(items.get(i)), items.get(i + 1));
        }
    }

    /**
     * Dict keys must be immutable scalars, or flat tuples of them. Python also hashes nested tuples, but a pickle can
     * share one tuple many times over through the memo, making hashing and comparing nested keys exponentially slow;
     * no checkpoint needs them.
     */
    private Object hashable(Object key) {
        if (isScalar(key)) {
            return key;
        }
        if (key instanceof Tuple t && t.items().stream().allMatch(PickleReader::isScalar)) {
            return key;
        }
        throw fail("unsupported dict key " + describe(key) + " (only strings, numbers and flat tuples of them)");
    }

    private static boolean isScalar(Object value) {
        return value instanceof String || value instanceof Long || value instanceof BigInteger || value instanceof Boolean
                || value instanceof Double || value instanceof Bytes || value == NONE;
    }

    private Object littleEndianInteger(int length) {
        byte[] littleEndian = bytes(length);
        if (length == 0) {
            return 0L;
        }
        byte[] bigEndian = new byte[length];
        for (int i = 0; i < length; i++) {
            bigEndian[i] = littleEndian[length - 1 - i];
        }
        BigInteger value = new BigInteger(bigEndian);
        return value.bitLength() < 64 ? (Object) value.longValue() : value;
    }

    /** Checks that {@code n} more bytes exist, consumes them and returns where they start. */
    private int need(int n) {
        if (in.remaining() < n) {
            throw fail("pickle ends in the middle of an opcode (truncated file?)");
        }
        int at = in.position();
        in.position(at + n);
        return at;
    }

    private int u8() {
        return in.get(need(1)) & 0xff;
    }

    private long u32() {
        return in.getInt(need(4)) & 0xffffffffL;
    }

    private int length(long length) {
        if (length < 0 || length > in.remaining()) {
            throw fail("pickle string of " + Long.toUnsignedString(length) + " bytes runs past the end (truncated file?)");
        }
        return (int) length;
    }

    private byte[] bytes(int length) {
        byte[] out = new byte[length];
        in.get(need(length), out);
        return out;
    }

    private String utf8(int length) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes(length)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw fail("pickle string is not valid UTF-8");
        }
    }

    private String latin1(int length) {
        return new String(bytes(length), StandardCharsets.ISO_8859_1);
    }

    /** A GLOBAL operand: text up to a newline. */
    private String line() {
        int start = in.position();
        for (int i = start; i < in.limit(); i++) {
            if (in.get(i) == '\n') {
                String text = utf8(i - start);
                in.position(i + 1);
                return text;
            }
        }
        throw fail("pickle ends in the middle of a GLOBAL name (truncated file?)");
    }

    private StepwiseException fail(String message) {
        return new StepwiseException(file + ": " + message + " (" + entry + ", byte " + opcodeStart + ")");
    }

    /** A short description of a pickled value for errors; never recurses, so cyclic values are safe. */
    static String describe(Object value) {
        if (value == NONE) {
            return "None";
        }
        if (value instanceof String s) {
            return "'" + printable(s.length() > 40 ? s.substring(0, 37) + "..." : s) + "'";
        }
        if (value instanceof Long || value instanceof BigInteger) {
            return "int " + value;
        }
        if (value instanceof Double) {
            return "float " + value;
        }
        if (value instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (value instanceof Tuple t) {
            return "a tuple of " + t.size();
        }
        if (value instanceof List<?> l) {
            return "a list of " + l.size();
        }
        if (value instanceof Map<?, ?> m) {
            return "a dict of " + m.size();
        }
        if (value instanceof Bytes b) {
            return "bytes of length " + b.value().length;
        }
        return String.valueOf(value);
    }

    /** {@code text} with control characters escaped, so that names read from a file keep error messages on one line. */
    static String printable(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isISOControl(c) || Character.getType(c) == Character.LINE_SEPARATOR
                    || Character.getType(c) == Character.PARAGRAPH_SEPARATOR) {
                if (out == null) {
                    out = new StringBuilder(text.substring(0, i));
                }
                out.append(c == '\n' ? "\\n" : String.format("\\u%04x", (int) c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }
}
