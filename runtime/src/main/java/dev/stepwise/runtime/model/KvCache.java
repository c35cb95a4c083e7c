package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

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
