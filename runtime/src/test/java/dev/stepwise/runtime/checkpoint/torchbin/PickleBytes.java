package dev.stepwise.runtime.checkpoint.torchbin;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes pickle opcodes one by one, so tests can spell out exactly the stream they mean — the one {@code torch.save}
 * emits, or a hostile one. {@link #memo} reproduces the memo use of Python's pickler: the first occurrence of a value
 * is written and stored with BINPUT, later ones are fetched with BINGET.
 */
final class PickleBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Map<Object, Integer> memoIndex = new HashMap<>();
    private int nextMemo;

    PickleBytes op(int opcode) {
        out.write(opcode);
        return this;
    }

    PickleBytes raw(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    PickleBytes raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    PickleBytes proto(int protocol) {
        return raw(PickleReader.PROTO, protocol);
    }

    private PickleBytes u16(int v) {
        return raw(v & 0xff, (v >>> 8) & 0xff);
    }

    private PickleBytes u32(long v) {
        return raw((int) (v & 0xff), (int) ((v >>> 8) & 0xff), (int) ((v >>> 16) & 0xff), (int) ((v >>> 24) & 0xff));
    }

    PickleBytes u64(long v) {
        return u32(v).u32(v >>> 32);
    }

    /** An int the way Python's pickler (protocol ≥ 2) writes it: the shortest of BININT1, BININT2, BININT, LONG1. */
    PickleBytes integer(long v) {
        if (v >= 0 && v <= 0xff) {
            return raw(PickleReader.BININT1, (int) v);
        }
        if (v >= 0 && v <= 0xffff) {
            op(PickleReader.BININT2);
            return u16((int) v);
        }
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            op(PickleReader.BININT);
            return u32(v);
        }
        byte[] bigEndian = java.math.BigInteger.valueOf(v).toByteArray();
        op(PickleReader.LONG1).raw(bigEndian.length);
        for (int i = bigEndian.length - 1; i >= 0; i--) {
            out.write(bigEndian[i]);
        }
        return this;
    }

    /** BINUNICODE: 4-byte length, UTF-8. */
    PickleBytes binunicode(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        op(PickleReader.BINUNICODE).u32(utf8.length);
        return raw(utf8);
    }

    PickleBytes shortBinunicode(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return raw(PickleReader.SHORT_BINUNICODE, utf8.length).raw(utf8);
    }

    /** GLOBAL: module and name, each ended by a newline. */
    PickleBytes global(String module, String name) {
        op(PickleReader.GLOBAL);
        return raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** STACK_GLOBAL after pushing module and name as short strings (protocol 4). */
    PickleBytes stackGlobal(String module, String name) {
        return shortBinunicode(module).shortBinunicode(name).op(PickleReader.STACK_GLOBAL);
    }

    PickleBytes binput(int index) {
        return raw(PickleReader.BINPUT, index);
    }

    PickleBytes binget(int index) {
        return raw(PickleReader.BINGET, index);
    }

    /** Stores the value just written in the next memo slot (BINPUT, or LONG_BINPUT past 255). */
    PickleBytes put() {
        int index = nextMemo++;
        if (index < 256) {
            return binput(index);
        }
        op(PickleReader.LONG_BINPUT);
        return u32(index);
    }

    private PickleBytes get(int index) {
        if (index < 256) {
            return binget(index);
        }
        op(PickleReader.LONG_BINGET);
        return u32(index);
    }

    /** Writes a value once (then BINPUT) and fetches it from the memo ever after, as Python does for shared objects. */
    PickleBytes memo(Object key, Runnable write) {
        Integer index = memoIndex.get(key);
        if (index != null) {
            return get(index);
        }
        write.run();
        memoIndex.put(key, nextMemo);
        return put();
    }

    PickleBytes memoString(String s) {
        return memo("str:" + s, () -> binunicode(s));
    }

    PickleBytes memoGlobal(String module, String name) {
        return memo("global:" + module + "." + name, () -> global(module, name));
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
