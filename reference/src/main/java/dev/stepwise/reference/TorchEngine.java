package dev.stepwise.reference;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.Utils;
import dev.stepwise.runtime.StepwiseException;

/**
 * Loads DJL's PyTorch engine once per JVM, offline, and owns its process-wide settings (thread counts).
 *
 * <p>Offline loading: libtorch comes from the {@code pytorch-native-cpu} jar on the class path (DJL finds
 * {@code native/lib/pytorch.properties} there and unpacks the libraries into its cache folder, {@code ~/.djl.ai} or
 * {@code $DJL_CACHE_DIR}); the JNI glue comes from the {@code pytorch-jni} jar the same way. Nothing is downloaded.
 * Before the first load this class defaults two system properties, unless the user already set them:
 * <ul>
 *   <li>{@value #OFFLINE} = {@code true}: DJL never downloads (a missing native jar fails fast instead), and it
 *       skips its usage "call home" (an HTTP request to the EC2 metadata address) when the engine starts;</li>
 *   <li>{@value #OPT_OUT_TRACKING} = {@code true}: skips that call home too, even if someone turns offline mode
 *       off. (DJL also reads both as environment variables: {@code DJL_OFFLINE}, {@code OPT_OUT_TRACKING}; the
 *       environment wins over the property for {@code DJL_OFFLINE}.)</li>
 * </ul>
 */
public final class TorchEngine {
    /** DJL's offline switch (system property; environment variable {@code DJL_OFFLINE}). */
    public static final String OFFLINE = "ai.djl.offline";
    /** DJL's usage-tracking opt-out (system property or environment variable of that name). */
    public static final String OPT_OUT_TRACKING = "OPT_OUT_TRACKING";
    /** Intra-op threads DJL applies when the engine loads ({@code torch.set_num_threads}). */
    public static final String NUM_THREADS = "ai.djl.pytorch.num_threads";
    /**
     * Inter-op threads DJL applies when the engine loads ({@code torch.set_num_interop_threads}); libtorch accepts
     * this only before its first parallel work, so it can only be set through the property, before loading.
     */
    public static final String NUM_INTEROP_THREADS = "ai.djl.pytorch.num_interop_threads";

    private static final String ENGINE_NAME = "PyTorch";

    private TorchEngine() {
    }

    /** The PyTorch engine, loaded (offline) on first use. */
    public static Engine get() {
        return Holder.ENGINE;
    }

    /**
     * Sets libtorch's intra-op thread count ({@code torch.set_num_threads}): the threads one matmul or one
     * element-wise kernel may use. It is process-wide. Before the engine is loaded this also sets
     * {@value #NUM_THREADS}, which DJL applies at load time; afterwards it calls {@code at::set_num_threads} directly.
     */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("thread count must be at least 1, got " + n);
        }
        System.setProperty(NUM_THREADS, Integer.toString(n));
        get();
        JniUtils.setNumThreads(n);
    }

    /** libtorch's current intra-op thread count. */
    public static int threads() {
        get();
        return JniUtils.getNumThreads();
    }

    /** True when DJL runs offline (it will not download anything). */
    public static boolean isOffline() {
        return Utils.isOfflineMode();
    }

    // Lazy holder: the properties are defaulted before DJL's Engine first runs, exactly once.
    private static final class Holder {
        static final Engine ENGINE = load();
    }

    private static Engine load() {
        defaultProperty(OFFLINE, "true");
        defaultProperty(OPT_OUT_TRACKING, "true");
        Engine engine;
        try {
            engine = Engine.getEngine(ENGINE_NAME);
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new StepwiseException("cannot load DJL's PyTorch engine (needs ai.djl.pytorch:pytorch-native-cpu"
                    + " and pytorch-jni on the class path, and a writable DJL cache folder, ~/.djl.ai or"
                    + " $DJL_CACHE_DIR): " + e.getMessage(), e);
        }
        // Autograd mode is thread-local in libtorch; DJL turns it off on the loading thread. TorchOps turns it off
        // on its own thread too, and never creates tensors that require gradients, so no graph is ever recorded.
        JniUtils.setGradMode(false);
        return engine;
    }

    private static void defaultProperty(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
