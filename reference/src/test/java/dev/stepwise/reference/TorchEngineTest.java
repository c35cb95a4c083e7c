package dev.stepwise.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.stepwise.runtime.checkpoint.MapWeightSource;
import org.junit.jupiter.api.Test;

/** The engine loads from the jars on the class path, offline, without autograd, with a settable thread count. */
class TorchEngineTest {

    @Test
    void loadsOfflineFromTheBundledNativeJar() {
        Engine engine = TorchEngine.get();
        assertEquals("PyTorch", engine.getEngineName());
        assertEquals("2.7.1", engine.getVersion());
        assertTrue(TorchEngine.isOffline(), "DJL must run offline");
        assertEquals("true", System.getProperty(TorchEngine.OPT_OUT_TRACKING));
        // libtorch comes from pytorch-native-cpu (DJL looks for this file first and downloads only without it)
        assertNotNull(getClass().getClassLoader().getResource("native/lib/pytorch.properties"));
        assertNotNull(getClass().getClassLoader().getResource("jnilib/linux-x86_64/cpu/libdjl_torch.so"));
    }

    @Test
    void autogradIsOffOnTheThreadThatUsesTheOps() throws Exception {
        Thread worker = new Thread(() -> {
            JniUtils.setGradMode(true); // a fresh thread in libtorch would start with it on
            try (TorchOps ops = new TorchOps(new MapWeightSource())) {
                assertFalse(JniUtils.isGradMode());
                TorchTensor t = (TorchTensor) ops.scalar(1f);
                assertFalse(t.array().hasGradient());
            }
        });
        Throwable[] failure = new Throwable[1];
        worker.setUncaughtExceptionHandler((th, e) -> failure[0] = e);
        worker.start();
        worker.join();
        if (failure[0] != null) {
            throw new AssertionError(failure[0]);
        }
    }

    @Test
    void threadCountCanBeSet() {
        int before = TorchOps.threads();
        try {
            TorchOps.setThreads(1);
            assertEquals(1, TorchOps.threads());
            assertEquals("1", System.getProperty(TorchEngine.NUM_THREADS));
            TorchOps.setThreads(2);
            assertEquals(2, TorchOps.threads());
        } finally {
            TorchOps.setThreads(before);
        }
        assertThrows(IllegalArgumentException.class, () -> TorchOps.setThreads(0));
    }
}
