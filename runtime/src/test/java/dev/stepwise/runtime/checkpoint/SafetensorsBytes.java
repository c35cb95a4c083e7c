package dev.stepwise.runtime.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests can write exactly the corruption they check for. */
final class SafetensorsBytes {
    private SafetensorsBytes() {
    }

    /** A file with the given header JSON (its true length) followed by {@code dataBytes} zero bytes. */
    static Path write(Path file, String headerJson, int dataBytes) throws IOException {
        byte[] json = headerJson.getBytes(StandardCharsets.UTF_8);
        return write(file, json.length, json, dataBytes);
    }

    /** A file whose 8-byte length field says {@code declaredLength}, whatever the header really is. */
    static Path write(Path file, long declaredLength, byte[] json, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(json);
        Files.write(file, b.array());
        return file;
    }

    /** A header entry as JSON. */
    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }
}
