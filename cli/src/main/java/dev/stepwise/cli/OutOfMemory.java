package dev.stepwise.cli;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Turns running out of memory — the Java heap, direct buffers, or a native allocation in libtorch or ONNX Runtime —
 * into one line saying what ran out and how to give more, instead of a stack trace.
 */
final class OutOfMemory {
    private OutOfMemory() {
    }

    /** The one-line message for {@code e} (or anything in its cause chain) if it is an out-of-memory failure, else null. */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage() == null ? "" : t.getMessage();
            if (t instanceof OutOfMemoryError) {
                if (message.contains("direct buffer memory")) {
                    return "out of memory: direct buffer memory is used up (" + firstLine(message) + "); give more with"
                            + " STEPWISE_JAVA_OPTS=-XX:MaxDirectMemorySize=<size>, e.g. 16g";
                }
                return String.format(Locale.ROOT, "out of memory: the Java heap (max %.1f GB) is full (%s); give more"
                                + " with STEPWISE_JAVA_OPTS=-Xmx<size>, e.g. -Xmx16g",
                        Runtime.getRuntime().maxMemory() / 1e9, firstLine(message));
            }
            String lower = message.toLowerCase(Locale.ROOT);
            if (lower.contains("can't allocate memory") || lower.contains("failed to allocate memory")
                    || lower.contains("bad_alloc") || lower.contains("out of memory")) {
                return String.format(Locale.ROOT, "out of memory: a native allocation failed (%s); this machine has"
                                + " %.1f GB of RAM: free memory or use a larger machine",
                        firstLine(message), physicalMemory() / 1e9);
            }
        }
        return null;
    }

    private static String firstLine(String s) {
        String line = s.strip().split("\\R", 2)[0];
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    private static long physicalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 0;
    }
}
