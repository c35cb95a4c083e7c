package dev.stepwise.runtime.model;

import dev.stepwise.runtime.ops.Tensor;

/**
 * Per-layer past key/values going into a forward, and the present key/values coming out of it. Layout is the
 * spec's cache layout, {@code [batch, num_key_value_heads, sequence, head_dim]} for the built-in models.
 */
public final class KvCache {
    private final Tensor[] pastKeys;
    private final Tensor[] pastValues;
    private final Tensor[] presentKeys;
    private final Tensor[] presentValues;
    private final boolean hasPast;

    private KvCache(int layers, boolean hasPast) {
        this.pastKeys = new Tensor[layers];
        this.pastValues = new Tensor[layers];
        this.presentKeys = new Tensor[layers];
        this.presentValues = new Tensor[layers];
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
        return pastKeys.length;
    }

    /** True when the forward must concatenate a past in front of the new keys/values. */
    public boolean hasPast() {
        return hasPast;
    }

    public void setPast(int layer, Tensor key, Tensor value) {
        pastKeys[layer] = key;
        pastValues[layer] = value;
    }

    public Tensor pastKey(int layer) {
        return pastKeys[layer];
    }

    public Tensor pastValue(int layer) {
        return pastValues[layer];
    }

    public void setPresent(int layer, Tensor key, Tensor value) {
        presentKeys[layer] = key;
        presentValues[layer] = value;
    }

    public Tensor presentKey(int layer) {
        return presentKeys[layer];
    }

    public Tensor presentValue(int layer) {
        return presentValues[layer];
    }
}
