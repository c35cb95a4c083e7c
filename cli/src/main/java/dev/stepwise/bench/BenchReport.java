package dev.stepwise.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything one benchmark run measured, with the ratios the targets are stated in: ONNX Runtime's decode step
 * against the bandwidth floor (lower is better, 1.0 is the floor) and the PyTorch reference's time over ONNX
 * Runtime's (above 1 means ONNX Runtime is faster). Ratios come from figures measured in the same run.
 */
public record BenchReport(String modelType, long weightBytes, BenchOptions options, double exportSeconds,
                          EngineResult ort, EngineResult torch, FloorResult floor, List<QuantizedResult> quantized,
                          FusedResult fused, Map<String, OpProfile> profiles, MachineFacts machine, Versions versions,
                          double loadBefore, double loadAfter) {

    /** Library versions the figures came from. */
    public record Versions(String onnxruntime, String libtorch, String djl) {
    }

    public boolean sameTokens() {
        return Arrays.deepEquals(ort.tokens(), torch.tokens());
    }

    /** Whether the {@code --optimize ort} export decoded the plain export's tokens (true when not measured). */
    public boolean fusedSameTokens() {
        return fused == null || Arrays.deepEquals(ort.tokens(), fused.ort().tokens());
    }

    public double ortVsFloor() {
        return ort.decodeMillisPerToken() / floor.medianMillis();
    }

    public double ortVsTorchDecodeRatio() {
        return torch.decodeMillisPerToken() / ort.decodeMillisPerToken();
    }

    public double ortVsTorchPrefillRatio() {
        return torch.prefillMillis() / ort.prefillMillis();
    }

    /** The one JSON object {@code bench --json} prints. */
    public String toJson() {
        JsonObject j = new JsonObject();
        j.addProperty("model_type", modelType);
        j.addProperty("weight_bytes", weightBytes);
        j.addProperty("dtype", options.dtype() == dev.stepwise.annotations.DType.FLOAT16 ? "fp16" : "fp32");
        j.addProperty("batch_size", options.batchSize());
        j.addProperty("prompt_length", options.promptLength());
        j.addProperty("new_tokens", options.newTokens());
        j.addProperty("threads", options.threads());
        j.addProperty("warmup", options.warmup());
        j.addProperty("runs", options.runs());
        j.addProperty("export_seconds", round(exportSeconds));
        j.addProperty("ort_prefill_ms", round(ort.prefillMillis()));
        j.addProperty("ort_decode_ms_per_token", round(ort.decodeMillisPerToken()));
        j.addProperty("torch_prefill_ms", round(torch.prefillMillis()));
        j.addProperty("torch_decode_ms_per_token", round(torch.decodeMillisPerToken()));
        j.addProperty("floor_ms_per_token", round(floor.medianMillis()));
        j.addProperty("floor_gb_per_s", round(floor.gigabytesPerSecond()));
        j.addProperty("floor_method", floor.method());
        JsonObject byMethod = new JsonObject();
        floor.medianMillisByMethod().forEach((m, ms) -> byMethod.addProperty(m, round(ms)));
        j.add("floor_ms_by_method", byMethod);
        j.addProperty("ort_vs_floor", round(ortVsFloor()));
        j.addProperty("ort_vs_torch_decode_ratio", round(ortVsTorchDecodeRatio()));
        j.addProperty("ort_vs_torch_prefill_ratio", round(ortVsTorchPrefillRatio()));
        j.addProperty("same_tokens", sameTokens());
        JsonArray q = new JsonArray();
        for (QuantizedResult r : quantized) {
            JsonObject o = new JsonObject();
            o.addProperty("mode", r.mode().cliName());
            o.addProperty("weight_bytes", r.weightBytes());
            o.addProperty("decode_step_bytes", r.stepBytes());
            o.addProperty("prefill_ms", round(r.ort().prefillMillis()));
            o.addProperty("decode_ms_per_token", round(r.ort().decodeMillisPerToken()));
            o.addProperty("floor_ms_per_token", round(r.floorMillis()));
            o.addProperty("vs_floor", round(r.vsFloor()));
            o.addProperty("vs_fp32_decode", round(r.ort().decodeMillisPerToken() / ort.decodeMillisPerToken()));
            o.addProperty("quantize_seconds", round(r.quantizeSeconds()));
            q.add(o);
        }
        j.add("quantized", q);
        if (fused != null) {
            JsonObject f = new JsonObject();
            f.addProperty("prefill_ms", round(fused.ort().prefillMillis()));
            f.addProperty("decode_ms_per_token", round(fused.ort().decodeMillisPerToken()));
            f.addProperty("vs_floor", round(fused.ort().decodeMillisPerToken() / floor.medianMillis()));
            f.addProperty("vs_plain_decode", round(fused.ort().decodeMillisPerToken() / ort.decodeMillisPerToken()));
            f.addProperty("same_tokens_as_plain", fusedSameTokens());
            f.addProperty("export_seconds", round(fused.exportSeconds()));
            j.add("optimize_ort", f);
        }
        JsonObject p = new JsonObject();
        profiles.forEach((label, profile) -> {
            JsonObject o = new JsonObject();
            o.addProperty("past", profile.past());
            o.addProperty("kernel_ms", round(profile.totalMs()));
            JsonObject ops = new JsonObject();
            profile.byOp().forEach((op, ms) -> ops.addProperty(op, round(ms)));
            o.add("ms_by_op", ops);
            p.add(label, o);
        });
        j.add("profiles", p);
        j.addProperty("decode_samples", ort.decodeSamples());
        j.addProperty("cores", machine.cores());
        j.addProperty("os_name", machine.osName());
        j.addProperty("os_arch", machine.osArch());
        j.addProperty("cpu_model", machine.cpuModel());
        j.addProperty("memory_bytes", machine.memoryBytes());
        j.addProperty("java_version", machine.javaVersion());
        j.addProperty("java_vm", machine.javaVm());
        j.addProperty("onnxruntime_version", versions.onnxruntime());
        j.addProperty("libtorch_version", versions.libtorch());
        j.addProperty("djl_version", versions.djl());
        return json(j, loadBefore, loadAfter);
    }

    /** A bench JSON's last fields, the load averages before and after the run, then the object on one line. */
    static String json(JsonObject j, double loadBefore, double loadAfter) {
        j.addProperty("load_average_before", round(loadBefore));
        j.addProperty("load_average_after", round(loadAfter));
        return new GsonBuilder().disableHtmlEscaping().create().toJson(j);
    }

    /** A human-readable summary for stderr. */
    public String toTable() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "stepwise bench: %s, %.1f MB of weights, batch %d, prompt %d, %d new tokens,"
                        + " %d threads (medians of %d prefills and %d decode steps per engine)%n", modelType,
                weightBytes / 1e6, options.batchSize(), options.promptLength(), options.newTokens(), options.threads(),
                ort.prefillSamples(), ort.decodeSamples()));
        s.append(String.format(Locale.ROOT, "  %-26s %12s %18s%n", "", "prefill ms", "decode ms/token"));
        s.append(String.format(Locale.ROOT, "  %-26s %12.2f %18.2f%n", "ONNX Runtime " + (options.dtype() == dev.stepwise.annotations.DType.FLOAT16 ? "fp16" : "fp32"), ort.prefillMillis(),
                ort.decodeMillisPerToken()));
        s.append(String.format(Locale.ROOT, "  %-26s %12.2f %18.2f%n", "PyTorch engine (eager)", torch.prefillMillis(),
                torch.decodeMillisPerToken()));
        s.append(String.format(Locale.ROOT, "  %-26s %12s %18.2f   (%.1f GB/s, %s; %s)%n", "bandwidth floor", "-",
                floor.medianMillis(), floor.gigabytesPerSecond(), floor.method(), methods()));
        for (QuantizedResult r : quantized) {
            s.append(String.format(Locale.ROOT, "  %-26s %12.2f %18.2f   (own floor %.2f, %.1f MB read per step: %.2fx; %.2fx fp32)%n",
                    "ONNX Runtime " + r.mode().cliName(), r.ort().prefillMillis(), r.ort().decodeMillisPerToken(),
                    r.floorMillis(), r.stepBytes() / 1e6, r.vsFloor(),
                    r.ort().decodeMillisPerToken() / ort.decodeMillisPerToken()));
        }
        if (fused != null) {
            s.append(String.format(Locale.ROOT,
                    "  %-26s %12.2f %18.2f   (%.2fx floor; %.2fx plain; same tokens as plain: %s)%n",
                    "ONNX Runtime --optimize ort", fused.ort().prefillMillis(), fused.ort().decodeMillisPerToken(),
                    fused.ort().decodeMillisPerToken() / floor.medianMillis(),
                    fused.ort().decodeMillisPerToken() / ort.decodeMillisPerToken(), fusedSameTokens() ? "yes" : "NO"));
        }
        profiles.forEach((label, profile) -> s.append(profile.table(label, 8)));
        s.append(String.format(Locale.ROOT, "  ONNX Runtime decode / floor:        %.2fx%n", ortVsFloor()));
        s.append(String.format(Locale.ROOT, "  PyTorch / ONNX Runtime:             decode %.2fx, prefill %.2fx%n",
                ortVsTorchDecodeRatio(), ortVsTorchPrefillRatio()));
        s.append(String.format(Locale.ROOT, "  export with validation:             %.1f s%n", exportSeconds));
        s.append(String.format(Locale.ROOT, "  same greedy tokens:                 %s%n", sameTokens() ? "yes" : "NO"));
        s.append(machine.line(versions, loadBefore, loadAfter));
        return s.toString();
    }

    private String methods() {
        StringBuilder s = new StringBuilder();
        floor.medianMillisByMethod().forEach((m, ms) -> s.append(s.length() == 0 ? "" : ", ")
                .append(String.format(Locale.ROOT, "%s %.2f", m, ms)));
        return s.toString();
    }

    /** Figures in the JSON: six decimals are more than any timing here means. */
    static double round(double x) {
        return Math.round(x * 1e6) / 1e6;
    }
}
