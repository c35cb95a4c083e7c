package dev.stepwise.runtime.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A tensor's bytes, of any size, read piece by piece: how weights travel from a checkpoint into a weights file or a
 * native tensor without ever sitting whole in one Java buffer (a buffer holds at most 2 GiB, and a model's largest
 * tensor can be more). Implementations read their source on demand, so holding one costs nothing.
 */
public interface TensorBytes {
    /** Total bytes. */
    long size();

    /**
     * Fills {@code dst} from its position to its limit with the bytes starting at {@code offset} (little-endian,
     * row-major) and leaves its position at its limit. Offsets and lengths are whole elements.
     */
    void read(long offset, ByteBuffer dst);

    /** The remaining bytes of a buffer (its position and limit are not moved). */
    static TensorBytes of(ByteBuffer data) {
        ByteBuffer source = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        return new TensorBytes() {
            @Override
            public long size() {
                return source.remaining();
            }

            @Override
            public void read(long offset, ByteBuffer dst) {
                int n = dst.remaining();
                dst.put(source.slice(Math.toIntExact(offset), n));
            }
        };
    }
}
