package dev.stepwise.runtime.checkpoint;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Element types a safetensors header may name. Only F32, F16 and BF16 can be read as float32; the others are known
 * so that a header holding them is still checked (sizes, offsets) instead of rejected as unknown.
 */
public enum SafetensorsDtype {
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    F64(8, false),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    private final int byteSize;
    private final boolean readableAsFloat32;

    SafetensorsDtype(int byteSize, boolean readableAsFloat32) {
        this.byteSize = byteSize;
        this.readableAsFloat32 = readableAsFloat32;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean readableAsFloat32() {
        return readableAsFloat32;
    }

    /** The dtype spelled as in a header ("F16"), or empty when the spelling is unknown. */
    public static Optional<SafetensorsDtype> fromHeaderName(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** "F32, F16, BF16, ..." for error messages. */
    public static String knownNames() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
