package dev.stepwise.runtime.checkpoint;

import dev.stepwise.annotations.DType;
import dev.stepwise.runtime.StepwiseException;
import dev.stepwise.runtime.tensor.TensorBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * A stored checkpoint tensor read as float32 or float16, converted piece by piece as it is read: a bf16 tensor
 * becomes float32 (or float16) without a widened copy of the whole tensor ever existing, and a tensor of any size
 * can be streamed. Stored bytes are read with positional reads, so they pass through the page cache rather than
 * staying mapped into the process.
 */
record ConvertedTensorBytes(TensorFile file, String name, SafetensorsDtype stored, DType target, long elements)
        implements TensorBytes {
    /** Stored elements converted per piece: small enough to stay in cache, large enough to amortise the read. */
    private static final int PIECE_ELEMENTS = 1 << 16;
    private static final ThreadLocal<ByteBuffer> RAW = ThreadLocal.withInitial(
            () -> ByteBuffer.allocateDirect(PIECE_ELEMENTS * 4).order(ByteOrder.LITTLE_ENDIAN));

    /** {@code name} from {@code file} as {@code target} ({@code FLOAT} or {@code FLOAT16}). */
    static TensorBytes of(TensorFile file, String name, DType target) {
        SafetensorsDtype stored = file.dtype(name);
        if (!stored.readableAsFloat32()) {
            throw new StepwiseException(file.path() + ": tensor '" + name + "' is " + stored
                    + "; only F32, F16 and BF16 tensors can be read as weights");
        }
        if (target != DType.FLOAT && target != DType.FLOAT16) {
            throw new IllegalArgumentException("weights are read as FLOAT or FLOAT16, not " + target);
        }
        return new ConvertedTensorBytes(file, name, stored, target, SafetensorsEntry.elementCount(file.shape(name)));
    }

    private int targetSize() {
        return target == DType.FLOAT ? 4 : 2;
    }

    @Override
    public long size() {
        return elements * targetSize();
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        int size = targetSize();
        if (offset % size != 0 || dst.remaining() % size != 0 || offset + dst.remaining() > size()) {
            throw new IllegalArgumentException("tensor '" + name + "': read of " + dst.remaining() + " bytes at "
                    + offset + " is not whole elements within " + size() + " bytes");
        }
        boolean asStored = (stored == SafetensorsDtype.F32 && target == DType.FLOAT)
                || (stored == SafetensorsDtype.F16 && target == DType.FLOAT16);
        if (asStored) {
            file.readRaw(name, offset, dst);
            return;
        }
        long first = offset / size;
        long count = dst.remaining() / size;
        ByteBuffer raw = RAW.get();
        ByteBuffer out = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(PIECE_ELEMENTS, count - done);
            raw.clear().limit(n * stored.byteSize());
            file.readRaw(name, (first + done) * stored.byteSize(), raw);
            raw.flip();
            convert(raw, out, n, first + done);
            done += n;
        }
        dst.position(dst.limit());
    }

    private void convert(ByteBuffer raw, ByteBuffer out, int n, long firstElement) {
        if (target == DType.FLOAT) {
            // F16 or BF16 widened: always exact.
            ShortBuffer in = raw.asShortBuffer();
            FloatBuffer o = out.asFloatBuffer();
            boolean bf16 = stored == SafetensorsDtype.BF16;
            for (int i = 0; i < n; i++) {
                short h = in.get(i);
                o.put(i, bf16 ? HalfFloats.bf16ToFloat(h) : HalfFloats.f16ToFloat(h));
            }
            out.position(out.position() + 4 * n);
            return;
        }
        // To float16 from F32 or BF16: round to nearest even; a finite value beyond +-65504 is an error.
        ShortBuffer o = out.asShortBuffer();
        for (int i = 0; i < n; i++) {
            float v = stored == SafetensorsDtype.F32 ? raw.getFloat(4 * i) : HalfFloats.bf16ToFloat(raw.getShort(2 * i));
            short h = HalfFloats.floatToF16(v);
            if ((h & 0x7fff) == 0x7c00 && !Float.isInfinite(v)) {
                throw new StepwiseException(file.path() + ": tensor '" + name + "' cannot be stored as float16: element "
                        + (firstElement + i) + " (" + v + ") is beyond the float16 range of +-65504");
            }
            o.put(i, h);
        }
        out.position(out.position() + 2 * n);
    }
}
