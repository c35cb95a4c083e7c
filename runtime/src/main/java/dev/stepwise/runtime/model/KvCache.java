package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Dim;
import dev.stepwise.runtime.ops.Ops;
import dev.stepwise.runtime.ops.Tensor;
import java.util.function.UnaryOperator;

/**
 * Per-layer past key/values going into a forward, and the present key/values coming out of it. Layout is the
 * spec's cache layout, {@code [batch, num_key_value_heads, sequence, head_dim]} for the built-in models.
 */
public final class KvCache {
    private final LayerPairs past;
    private final LayerPairs present;
    private final boolean hasPast;

    private KvCache(int layers, boolean hasPast) {
        this.past = new LayerPairs(layers);
        this.present = new LayerPairs(layers);
        this.hasPast = hasPast;
    }

    /** No past (the plain text-generation task); presents are still recorded but not exported. */
    public static KvCache none(int layers) {
        return new KvCache(layers, false);
    }

    /** A cache whose past tensors are filled by {@link #setPast}. */
    public static KvCache withPast(int layers) {
        return new KvCache(layers, true);
    }

    public int numLayers() {
        return past.keys.length;
    }

    /** True when the forward must concatenate a past in front of the new keys/values. */
    public boolean hasPast() {
        return hasPast;
    }

    public void setPast(int layer, Tensor key, Tensor value) {
        past.set(layer, key, value);
    }

    public Tensor pastKey(int layer) {
        return past.keys[layer];
    }

    public Tensor pastValue(int layer) {
        return past.values[layer];
    }

    public void setPresent(int layer, Tensor key, Tensor value) {
        present.set(layer, key, value);
    }

    public Tensor presentKey(int layer) {
        return present.keys[layer];
    }

    public Tensor presentValue(int layer) {
        return present.values[layer];
    }

    /** One layer's keys and values as attention reads them. */
    public record KeyValue(Tensor key, Tensor value) {
    }

    /** The past's sequence length, {@code [batch, heads, sequence, head_dim]}'s axis 2 of layer 0 (0 without a past). */
    public Dim pastLength(Ops ops) {
        return hasPast ? ops.dim(pastKey(0), 2) : Dim.of(0);
    }

    /**
     * Self-attention's keys and values of {@code layer}: the past (when there is one) followed by the new ones along
     * the sequence axis, recorded as the layer's present.
     */
    public KeyValue append(Ops ops, int layer, Tensor key, Tensor value) {
        KeyValue kv = hasPast ? new KeyValue(ops.concat(2, pastKey(layer), key), ops.concat(2, pastValue(layer), value))
                : new KeyValue(key, value);
        setPresent(layer, kv.key(), kv.value());
        return kv;
    }

    /**
     * Cross-attention's keys and values of {@code layer}, projected from the encoder's output by {@code key} and
     * {@code value}: without a past they are computed once and then carried as this cache; with a past and an encoder
     * output (Stepwise's single decoder, where one of the two is empty) past and new are concatenated; with a past
     * alone the past is used. Recorded as the layer's present.
     */
    public KeyValue cross(Ops ops, int layer, Tensor encoderHiddenStates, UnaryOperator<Tensor> key,
                          UnaryOperator<Tensor> value) {
        if (hasPast && encoderHiddenStates == null) {
            KeyValue past = new KeyValue(pastKey(layer), pastValue(layer));
            setPresent(layer, past.key(), past.value());
            return past;
        }
        return append(ops, layer, key.apply(encoderHiddenStates), value.apply(encoderHiddenStates));
    }

    /** One key and one value per layer: the past going in, or the present coming out. */
    private static final class LayerPairs {
        final Tensor[] keys;
        final Tensor[] values;

        LayerPairs(int layers) {
            keys = new Tensor[layers];
            values = new Tensor[layers];
        }

        void set(int layer, Tensor key, Tensor value) {
            keys[layer] = key;
            values[layer] = value;
        }
    }
}
