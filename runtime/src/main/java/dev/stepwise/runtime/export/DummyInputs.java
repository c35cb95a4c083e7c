package dev.stepwise.runtime.export;

import dev.stepwise.runtime.tensor.HostTensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Inputs for one validation run, by graph input name, in declaration order. Generated {@code <Arch>DummyInputs}
 * classes build them from the architecture's declared axes; {@link DummyTensors} fills them.
 */
public final class DummyInputs {
    private final Map<String, HostTensor> tensors = new LinkedHashMap<>();

    public DummyInputs put(String name, HostTensor t) {
        tensors.put(name, t);
        return this;
    }

    public HostTensor get(String name) {
        HostTensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no dummy input '" + name + "'; have " + tensors.keySet());
        }
        return t;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Map<String, HostTensor> all() {
        return Collections.unmodifiableMap(tensors);
    }
}
