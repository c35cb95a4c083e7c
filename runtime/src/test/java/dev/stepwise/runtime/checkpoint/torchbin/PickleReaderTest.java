package dev.stepwise.runtime.checkpoint.torchbin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.checkpoint.torchbin.PickleReader.Bytes;
import dev.stepwise.runtime.checkpoint.torchbin.PickleReader.Tuple;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The restricted pickle reader on its own: what it reads, and what it refuses (each refusal one line, located). */
class PickleReaderTest {
    /**
     * CPython 3's pickle at protocol 2 (torch.save's default) for a stub state dict, using torch's persistent_id
     * convention: OrderedDict {'a.weight': 2×3 view of FloatStorage '0' (6 elements), 'b': [3] of HalfStorage '1',
     * 'tied': another 2×3 view of storage '0'}, with _metadata {'': {'version': 1}, 'a': {'version': 1}}.
     * {@link TorchSave} writes exactly these bytes for that state dict.
     */
    static final String CPYTHON_PROTOCOL_2 = "800263636f6c6c656374696f6e730a4f726465726564446963740a710029527101285808000000612e7765"
            + "69676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71032828580700000073746f72616765"
            + "710463746f7263680a466c6f617453746f726167650a71055801000000307106580300000063707571074b06747108514b004b024b0386"
            + "71094b034b0186710a8968002952710b74710c52710d580100000062710e68032828680463746f7263680a48616c6653746f726167650a"
            + "710f580100000031711068074b03747111514b004b038571124b018571138968002952711474711552711658040000007469656471176803"
            + "282868046805680668074b06747118514b004b024b038671194b034b0186711a8968002952711b74711c52711d757d711e58090000005f6d"
            + "65746164617461711f68002952712028580000000071217d7122580700000076657273696f6e71234b017358010000006171247d712568"
            + "234b01737573622e";

    /**
     * The same state dict pickled by CPython 3 at protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL), with the
     * 'tied' tensor sharing its size and stride tuples with 'a.weight' through the memo.
     */
    static final String CPYTHON_PROTOCOL_4 = "80049538010000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394"
            + "295294288c08612e776569676874948c0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f763294939428288c"
            + "0773746f72616765948c05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075944b067494514b004b024b0386"
            + "944b034b018694896802295294749452948c01629468072828680868098c0b48616c6653746f726167659493948c013194680d4b03749451"
            + "4b004b0385944b018594896802295294749452948c047469656494680728286808680b680c680d4b067494514b00680f6810896802295294"
            + "74945294757d948c095f6d65746164617461946802295294288c00947d948c0776657273696f6e944b01738c0161947d9468284b01737573"
            + "622e";

    /** A stand-in for a global: records its name; calling it returns its arguments. */
    record Stub(String name) implements PickleReader.PyFunction {
        @Override
        public Object call(Tuple args) {
            return name.equals("collections.OrderedDict") ? new java.util.LinkedHashMap<>() : args;
        }
    }

    private static Object read(byte[] pickle) {
        return PickleReader.read("f.bin", "f/data.pkl", ByteBuffer.wrap(pickle), (m, n) -> new Stub(m + "." + n),
                pid -> List.of("loaded", pid));
    }

    private static Object read(PickleBytes p) {
        return read(p.bytes());
    }

    private static String fail(byte[] pickle) {
        StepwiseException e = assertThrows(StepwiseException.class, () -> read(pickle));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith("f.bin: "), e.getMessage());
        return e.getMessage();
    }

    private static String fail(PickleBytes p) {
        return fail(p.bytes());
    }

    private static PickleBytes p() {
        return new PickleBytes().proto(2);
    }

    @SuppressWarnings("unchecked")
    private static void checkStubStateDict(Object root) {
        Map<Object, Object> dict = (Map<Object, Object>) root;
        assertEquals(List.of("a.weight", "b", "tied"), new ArrayList<>(dict.keySet()));
        Tuple a = (Tuple) dict.get("a.weight");
        assertEquals(6, a.size());
        List<Object> loaded = (List<Object>) a.get(0);
        assertEquals(new Tuple(List.of("storage", new Stub("torch.FloatStorage"), "0", "cpu", 6L)), loaded.get(1));
        assertEquals(0L, a.get(1));
        assertEquals(new Tuple(List.of(2L, 3L)), a.get(2));
        assertEquals(new Tuple(List.of(3L, 1L)), a.get(3));
        assertEquals(Boolean.FALSE, a.get(4));
        assertEquals(Map.of(), a.get(5));
        Tuple b = (Tuple) dict.get("b");
        assertEquals(new Tuple(List.of("storage", new Stub("torch.HalfStorage"), "1", "cpu", 3L)), ((List<Object>) b.get(0)).get(1));
        assertEquals(new Tuple(List.of(3L)), b.get(2));
        assertEquals(a.get(2), ((Tuple) dict.get("tied")).get(2));
    }

    @Test
    void readsCPythonProtocol2StateDict() {
        checkStubStateDict(read(HexFormat.of().parseHex(CPYTHON_PROTOCOL_2)));
    }

    @Test
    void readsCPythonProtocol4StateDict() {
        checkStubStateDict(read(HexFormat.of().parseHex(CPYTHON_PROTOCOL_4)));
    }

    @Test
    void torchSaveWritesWhatCPythonWrites() {
        TorchSave save = new TorchSave().f32("a.weight", TorchSave.shape(2, 3), 1, 2, 3, 4, 5, 6).f16("b", TorchSave.shape(3), 1, 2, 3)
                .view("tied", "0", 0, TorchSave.shape(2, 3), TorchSave.shape(3, 1)).metadataModule("a");
        assertEquals(CPYTHON_PROTOCOL_2, HexFormat.of().formatHex(save.pickle()));
    }

    @Test
    void integers() {
        PickleBytes b = p().op(PickleReader.MARK).integer(0).integer(255).integer(65535).integer(-1).integer(Integer.MAX_VALUE)
                .integer(1L << 40).integer(Long.MIN_VALUE)
                .raw(PickleReader.LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1) // 2^64
                .raw(PickleReader.LONG1, 0) // LONG1 of no bytes is 0
                .raw(PickleReader.LONG4, 2, 0, 0, 0, 0xff, 0x7f) // 32767
                .op(PickleReader.TUPLE).op(PickleReader.STOP);
        assertEquals(new Tuple(List.of(0L, 255L, 65535L, -1L, (long) Integer.MAX_VALUE, 1L << 40, Long.MIN_VALUE,
                BigInteger.ONE.shiftLeft(64), 0L, 32767L)), read(b));
    }

    @Test
    void scalarsStringsAndBytes() {
        PickleBytes b = p().op(PickleReader.MARK).op(PickleReader.NONE_OP).op(PickleReader.NEWTRUE).op(PickleReader.NEWFALSE)
                .raw(PickleReader.BINFLOAT, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0) // 1.5, big-endian
                .binunicode("é ✓").shortBinunicode("short")
                .raw(PickleReader.BINUNICODE8).u64(2).raw('h', 'i')
                .raw(PickleReader.SHORT_BINSTRING, 2, 'p', 'y').raw(PickleReader.BINSTRING, 1, 0, 0, 0, 'x')
                .raw(PickleReader.SHORT_BINBYTES, 2, 1, 2).raw(PickleReader.BINBYTES, 1, 0, 0, 0, 9)
                .raw(PickleReader.BINBYTES8).u64(0)
                .op(PickleReader.TUPLE).op(PickleReader.STOP);
        assertEquals(new Tuple(List.of(PickleReader.NONE, true, false, 1.5, "é ✓", "short", "hi", "py", "x",
                new Bytes(new byte[] {1, 2}), new Bytes(new byte[] {9}), new Bytes(new byte[0]))), read(b));
    }

    @Test
    void containersMemoAndStackOps() {
        PickleBytes b = p()
                .op(PickleReader.EMPTY_LIST).put().integer(1).op(PickleReader.APPEND)
                .op(PickleReader.MARK).integer(2).integer(3).op(PickleReader.APPENDS) // [1, 2, 3]
                .op(PickleReader.MARK).shortBinunicode("k").integer(4).op(PickleReader.DICT) // {'k': 4}
                .op(PickleReader.MARK).integer(5).integer(6).op(PickleReader.LIST) // [5, 6]
                .integer(99).op(PickleReader.POP) // dropped
                .op(PickleReader.MARK).integer(7).op(PickleReader.POP_MARK) // dropped with its mark
                .binget(0).op(PickleReader.DUP).op(PickleReader.TUPLE2) // (the first list, twice)
                .raw(PickleReader.LONG_BINPUT, 0x00, 0x01, 0, 0).op(PickleReader.POP)
                .raw(PickleReader.LONG_BINGET, 0x00, 0x01, 0, 0)
                .op(PickleReader.TUPLE3).op(PickleReader.TUPLE2).op(PickleReader.STOP);
        Tuple outer = (Tuple) read(b);
        assertEquals(List.of(1L, 2L, 3L), outer.get(0));
        Tuple inner = (Tuple) outer.get(1);
        assertEquals(Map.of("k", 4L), inner.get(0));
        assertEquals(List.of(5L, 6L), inner.get(1));
        Tuple twice = (Tuple) inner.get(2);
        assertSame(outer.get(0), twice.get(0));
        assertSame(twice.get(0), twice.get(1));
    }

    @Test
    void persistentIdsGoToTheLoader() {
        Object v = read(p().shortBinunicode("pid").op(PickleReader.BINPERSID).op(PickleReader.STOP));
        assertEquals(List.of("loaded", "pid"), v);
    }

    @Test
    void buildSetsNothingOnADict() {
        Object v = read(p().op(PickleReader.EMPTY_DICT).op(PickleReader.EMPTY_DICT).shortBinunicode("_metadata")
                .op(PickleReader.EMPTY_DICT).op(PickleReader.SETITEM).op(PickleReader.BUILD).op(PickleReader.STOP));
        assertEquals(Map.of(), v);
    }

    @Test
    void globalsAreResolvedByTheCallerAndMayBeRefused() {
        PickleReader.Globals refuseAll = (m, n) -> {
            throw new StepwiseException("f.bin: refusing pickle global '" + m + "." + n + "'");
        };
        byte[] pickle = p().global("os", "system").shortBinunicode("echo hi").op(PickleReader.TUPLE1)
                .op(PickleReader.REDUCE).op(PickleReader.STOP).bytes();
        StepwiseException e = assertThrows(StepwiseException.class,
                () -> PickleReader.read("f.bin", "f/data.pkl", ByteBuffer.wrap(pickle), refuseAll, pid -> pid));
        assertEquals("f.bin: refusing pickle global 'os.system'", e.getMessage());
    }

    @Test
    void objectBuildingOpcodesAreRefused() {
        assertEquals("f.bin: refusing pickle opcode NEWOBJ (it creates arbitrary objects; only tensor-rebuilding calls are"
                + " allowed) (f/data.pkl, byte 8)",
                fail(p().global("x", "y").op(PickleReader.EMPTY_TUPLE).op(PickleReader.NEWOBJ).op(PickleReader.STOP)));
        assertTrue(fail(p().raw(PickleReader.NEWOBJ_EX)).contains("refusing pickle opcode NEWOBJ_EX"));
        assertTrue(fail(p().op(PickleReader.MARK).raw(PickleReader.INST)).contains("refusing pickle opcode INST"));
        assertTrue(fail(p().op(PickleReader.MARK).raw(PickleReader.OBJ)).contains("refusing pickle opcode OBJ"));
        assertTrue(fail(p().raw(PickleReader.EXT1, 1)).contains("refusing pickle opcode EXT1"));
    }

    @Test
    void unknownAndUnsupportedOpcodes() {
        assertEquals("f.bin: unsupported pickle opcode 0xff (f/data.pkl, byte 2)", fail(p().raw(0xff)));
        assertEquals("f.bin: unsupported pickle opcode 0x49 (INT) (f/data.pkl, byte 2)", fail(p().raw('I', '1', '\n')));
        assertTrue(fail(p().raw(0x8f)).contains("(EMPTY_SET)"));
    }

    @Test
    void reduceNeedsACallableAndATuple() {
        assertTrue(fail(p().integer(1).op(PickleReader.EMPTY_TUPLE).op(PickleReader.REDUCE))
                .contains("REDUCE on int 1, which is not a callable"));
        assertTrue(fail(p().global("m", "f").integer(1).op(PickleReader.REDUCE))
                .contains("REDUCE needs a tuple of arguments, found int 1"));
    }

    @Test
    void buildOnAnythingButADictIsRefused() {
        assertTrue(fail(p().op(PickleReader.EMPTY_LIST).op(PickleReader.EMPTY_DICT).op(PickleReader.BUILD))
                .contains("refusing BUILD of a list of 0 with a dict of 0"));
        assertTrue(fail(p().op(PickleReader.EMPTY_DICT).integer(3).op(PickleReader.BUILD)).contains("refusing BUILD"));
    }

    @Test
    void truncatedPickles() {
        byte[] whole = HexFormat.of().parseHex(CPYTHON_PROTOCOL_2);
        for (int cut : new int[] {0, 1, 5, 40, 200, whole.length - 1}) {
            String message = fail(java.util.Arrays.copyOf(whole, cut));
            assertTrue(message.contains("truncated file?") || message.contains("ends"), cut + ": " + message);
        }
        assertEquals("f.bin: pickle ends without its STOP opcode (truncated file?) (f/data.pkl, byte 4)",
                fail(p().integer(1)));
        assertTrue(fail(p().raw(PickleReader.BININT, 1, 2)).contains("ends in the middle of an opcode"));
        assertTrue(fail(p().raw(PickleReader.GLOBAL, 'o', 's', '\n', 's')).contains("ends in the middle of a GLOBAL name"));
    }

    @Test
    void forgedLengthsDoNotAllocate() {
        assertTrue(fail(p().raw(PickleReader.BINUNICODE, 0xff, 0xff, 0xff, 0xff, 'a'))
                .contains("pickle string of 4294967295 bytes runs past the end"));
        assertTrue(fail(p().raw(PickleReader.BINBYTES8).u64(-1)).contains("runs past the end"));
        assertTrue(fail(p().raw(PickleReader.FRAME).u64(1L << 40)).contains("frame of 1099511627776 bytes runs past the end"));
        assertTrue(fail(p().raw(PickleReader.LONG4, 0xff, 0xff, 0xff, 0x7f)).contains("LONG4 integer of 2147483647 bytes"));
    }

    @Test
    void malformedStacks() {
        assertTrue(fail(p().op(PickleReader.SETITEMS)).contains("malformed pickle: no MARK to pop"));
        assertTrue(fail(p().op(PickleReader.STOP)).contains("malformed pickle: stack underflow"));
        assertTrue(fail(p().integer(1).op(PickleReader.MARK).op(PickleReader.TUPLE2)).contains("stack underflow"));
        assertTrue(fail(p().binget(7)).contains("memo entry 7 was never stored"));
        assertTrue(fail(p().integer(1).op(PickleReader.APPEND)).contains("stack underflow"));
        assertTrue(fail(p().op(PickleReader.EMPTY_DICT).integer(1).op(PickleReader.APPEND)).contains("APPEND on a dict of 0, which is not a list"));
        assertTrue(fail(p().op(PickleReader.EMPTY_LIST).integer(1).integer(2).op(PickleReader.SETITEM)).contains("SETITEM on a list"));
        assertTrue(fail(p().op(PickleReader.EMPTY_DICT).op(PickleReader.MARK).integer(1).op(PickleReader.SETITEMS))
                .contains("odd number of items"));
        assertTrue(fail(p().integer(1).integer(2).op(PickleReader.STACK_GLOBAL)).contains("STACK_GLOBAL needs two strings"));
    }

    @Test
    void unhashableDictKeysAreRefused() {
        assertTrue(fail(p().op(PickleReader.EMPTY_DICT).op(PickleReader.EMPTY_LIST).integer(1).op(PickleReader.SETITEM))
                .contains("unsupported dict key a list of 0"));
        // A list that contains itself, inside a tuple used as a key: refused without recursing forever.
        assertTrue(fail(p().op(PickleReader.EMPTY_DICT).op(PickleReader.EMPTY_LIST).put().binget(0).op(PickleReader.APPEND)
                .op(PickleReader.TUPLE1).integer(1).op(PickleReader.SETITEM)).contains("unsupported dict key"));
    }

    @Test
    void newerProtocolAndBadUtf8() {
        assertTrue(fail(new PickleBytes().proto(6)).contains("pickle protocol 6 is newer than the highest known, 5"));
        assertTrue(fail(p().raw(PickleReader.SHORT_BINUNICODE, 1, 0xff)).contains("not valid UTF-8"));
    }

    @Test
    void valuesAreDescribedWithoutRecursing() {
        List<Object> cyclic = new ArrayList<>();
        cyclic.add(cyclic);
        assertEquals("a list of 1", PickleReader.describe(cyclic));
        assertEquals("None", PickleReader.describe(PickleReader.NONE));
        assertEquals("'" + "x".repeat(37) + "...'", PickleReader.describe("x".repeat(100)));
        assertInstanceOf(String.class, PickleReader.describe(new Bytes(new byte[3])));
        assertArrayEquals(new byte[] {1}, new Bytes(new byte[] {1}).value());
    }
}
