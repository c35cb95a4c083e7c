package dev.stepwise.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What a benchmark figure depends on besides the model: the CPU, memory, JVM, and how busy the machine was. */
public record MachineFacts(int cores, String osName, String osArch, String cpuModel, long memoryBytes, String javaVersion,
                    String javaVm) {

    static MachineFacts current() {
        return new MachineFacts(Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.arch"), readCpuModel(), readMemoryBytes(), System.getProperty("java.version"),
                System.getProperty("java.vm.name"));
    }

    /** The table line of these facts, the library versions and the load average before and after the run. */
    String line(BenchReport.Versions versions, double loadBefore, double loadAfter) {
        return String.format(java.util.Locale.ROOT, "  machine: %d cores (%s), %s %s, Java %s, ONNX Runtime %s,"
                        + " libtorch %s (DJL %s), load average %.2f -> %.2f%n", cores, cpuModel, osName, osArch,
                javaVersion, versions.onnxruntime(), versions.libtorch(), versions.djl(), loadBefore, loadAfter);
    }

    /** The 1-minute load average (−1 where the OS does not tell): others' work skews every figure. */
    static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    /** Physical memory, or a conservative 4 GiB where the OS does not tell. */
    static long physicalMemoryBytes() {
        long m = readMemoryBytes();
        return m > 0 ? m : 4L << 30;
    }

    private static String readCpuModel() {
        for (String line : lines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).strip();
            }
        }
        return "unknown";
    }

    private static long readMemoryBytes() {
        for (String line : lines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemTotal:")) {
                String[] parts = line.split("\\s+");
                return Long.parseLong(parts[1]) * 1024;
            }
        }
        return -1;
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | RuntimeException e) {
            return List.of(); // not Linux: the fact is just unknown
        }
    }
}
