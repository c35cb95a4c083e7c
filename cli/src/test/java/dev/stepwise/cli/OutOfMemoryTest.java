package dev.stepwise.cli;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.stepwise.runtime.StepwiseException;
import org.junit.jupiter.api.Test;

/** Every way of running out of memory becomes one line saying what ran out and how to give more. */
class OutOfMemoryTest {
    @Test
    void directBufferMemoryNamesTheFlagToRaise() {
        String m = Main.describe(new OutOfMemoryError("Cannot reserve 4194304 bytes of direct buffer memory"
                + " (allocated: 1070000000, limit: 1073741824)"));
        assertTrue(m.startsWith("out of memory: direct buffer memory"), m);
        assertTrue(m.contains("-XX:MaxDirectMemorySize"), m);
        assertTrue(!m.contains("\n"), m);
    }

    @Test
    void javaHeapNamesXmx() {
        String m = Main.describe(new OutOfMemoryError("Java heap space"));
        assertTrue(m.contains("Java heap") && m.contains("-Xmx"), m);
    }

    @Test
    void aNativeAllocationFailureDeepInTheCauseChainIsFound() {
        RuntimeException e = new RuntimeException("forward failed", new IllegalStateException(
                "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate"
                        + " 4943000000 bytes.\nstack line"));
        String m = Main.describe(e);
        assertTrue(m.startsWith("out of memory: a native allocation failed"), m);
        assertTrue(m.contains("GB of RAM") && !m.contains("\n"), m);
    }

    @Test
    void otherErrorsAreLeftAlone() {
        assertNull(OutOfMemory.describe(new StepwiseException("config.json: missing key")));
        assertTrue(Main.describe(new StepwiseException("config.json: missing key")).equals("config.json: missing key"));
    }
}
