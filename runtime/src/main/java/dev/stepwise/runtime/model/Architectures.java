package dev.stepwise.runtime.model;

import dev.stepwise.runtime.StepwiseException;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The architectures on the class path, found through {@link ServiceLoader} by their {@code model_type}. */
public final class Architectures {
    private Architectures() {
    }

    public static Map<String, Architecture> all() {
        Map<String, Architecture> byType = new TreeMap<>();
        for (Architecture a : ServiceLoader.load(Architecture.class)) {
            byType.put(a.spec().modelType(), a);
        }
        return byType;
    }

    /** The architecture for {@code modelType}; {@code where} names the config file for the error message. */
    public static Architecture forModelType(String modelType, String where) {
        Map<String, Architecture> all = all();
        Architecture a = all.get(modelType);
        if (a == null) {
            throw new StepwiseException(where + ": unknown model_type '" + modelType + "' (supported: "
                    + String.join(", ", all.keySet()) + ")");
        }
        return a;
    }
}
