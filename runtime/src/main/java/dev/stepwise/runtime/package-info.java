/**
 * Stepwise as a library: export Hugging Face text-generation checkpoints to ONNX, quantize them, unroll them into
 * static per-step graphs, and generate with ONNX Runtime. Everything starts at {@link dev.stepwise.runtime.Stepwise};
 * the other packages are the machinery behind it, apart from the option and result types its methods take and give.
 *
 * <h2>Five minutes with Stepwise</h2>
 *
 * <p><b>1. Dependencies.</b> Generating needs {@code dev.stepwise:stepwise-runtime} and
 * {@code dev.stepwise:stepwise-models} (the architectures, found with {@link java.util.ServiceLoader}); exporting also
 * needs {@code dev.stepwise:stepwise-reference}, the PyTorch engine every export is validated against. None of them
 * brings a CLI, a progress bar or an SLF4J binding; only the reference brings libtorch.
 *
 * <p><b>2. Export</b> a checkpoint folder ({@code config.json} and safetensors or {@code pytorch_model.bin}) to ONNX.
 * The export is compared with PyTorch on several inputs and appears only if it matches within tolerance:
 *
 * <pre>{@code
 * ExportResult exported = Stepwise.export(Path.of("llama-dir"), Path.of("out"), ExportOptions.defaults());
 * for (ValidationCase c : exported.validation()) {
 *     System.out.printf("%s: max abs diff %.2e%n", c.name(), c.worst());
 * }
 * }</pre>
 *
 * <p>{@link dev.stepwise.runtime.export.ExportOptions} says what differs from the usual export, one {@code with...}
 * call per setting (each returns a new value, so the with-chain is the builder): a float16 graph, another opset,
 * whole-generation graphs next to the decoder, logits for the last position only:
 *
 * <pre>{@code
 * ExportOptions options = ExportOptions.defaults()
 *         .withDtype(DType.FLOAT16)
 *         .withGeneration(Set.of(GenerationGraph.LOOP))   // model_loop.onnx: a whole generation in one call
 *         .withLastLogitsOnly(true);
 * }</pre>
 *
 * <p><b>3. Quantize</b> the export (int8 dynamic by default; int4 weight-only or int8 static QDQ with
 * {@link dev.stepwise.runtime.quantize.QuantizeMode}). A quality gate compares the quantized model with the float one
 * on evaluation inputs and writes nothing when it drifts too far:
 *
 * <pre>{@code
 * QuantizeResult q = Stepwise.quantize(Path.of("out"), Path.of("out-int4"), QuantizeOptions.defaults(QuantizeMode.INT4));
 * q.quality().forEach(f -> System.out.println(f.summary()));     // top-1 agreement, mean KL per file
 * System.out.printf("%.1f MB -> %.1f MB%n", q.bytesBefore() / 1e6, q.bytesAfter() / 1e6);
 * }</pre>
 *
 * <p><b>4. Open and generate.</b> {@link dev.stepwise.runtime.LanguageModel} takes text (with the folder's tokenizer)
 * or token ids; settings start from the folder's {@code generation_config.json} and change with a builder. Text
 * streams as it is decoded:
 *
 * <pre>{@code
 * try (LanguageModel model = Stepwise.open(Path.of("out-int4"))) {
 *     String prompt = "def fib(n):";
 *     GenerationConfig greedy = model.settings().doSample(false).maxNewTokens(32).build(model.encode(prompt).length);
 *     String text = model.generate(prompt, greedy, System.out::print);      // pieces as they come
 *
 *     GenerationConfig sampled = greedy.toBuilder().doSample(true).temperature(0.8).topP(0.95).seed(7).build(0);
 *     List<List<long[]>> ids = model.generate(List.of(model.encode(prompt)), sampled,
 *             (row, step, token) -> System.out.println(row + ": " + token));
 * }
 * }</pre>
 *
 * <p>Greedy decoding, seeded sampling (top-k, top-p, temperature, repetition penalty, n-gram ban) and beam search
 * follow transformers' semantics. One {@code LanguageModel} serves concurrent requests; close it when done.
 *
 * <p><b>5. Unroll</b> for compilers that take fixed shapes only: one static graph per generation step, for a fixed
 * batch, prompt length and number of new tokens, all reading one weights file, checked step by step against the
 * dynamic decoder. An unrolled folder opens like an export:
 *
 * <pre>{@code
 * UnrollResult steps = Stepwise.unroll(Path.of("llama-dir"), Path.of("steps"), UnrollOptions.of(1, 32, 16));
 * try (LanguageModel model = Stepwise.open(steps.outputDir())) {
 *     long[] prompt = {10, 11, 12, 13};                    // at most 32 ids, left padded to 32
 *     long[] tokens = model.generate(List.of(prompt), GenerationConfig.greedy(16)).get(0).get(0);
 * }
 * }</pre>
 *
 * <p><b>6. Serve with Triton.</b> Lay an export out as a Triton Inference Server model repository: the decoder and
 * each whole-generation graph become ONNX Runtime backend models with their {@code config.pbtxt}, the weights hard
 * links to the export's file:
 *
 * <pre>{@code
 * TritonRepository.Layout layout = Stepwise.tritonRepository(Path.of("out"), Path.of("triton-models"));
 * // or during the export: ExportOptions.defaults().withTritonRepository(Path.of("triton-models"))
 * }</pre>
 *
 * <h2>Conventions</h2>
 *
 * <ul>
 *   <li>Failures the caller can act on are {@link dev.stepwise.runtime.StepwiseException}s (unchecked) with a
 *       one-line message naming what and where; a failed export validation is its subclass
 *       {@link dev.stepwise.runtime.export.ValidationException}, an option an engine cannot honour
 *       {@link dev.stepwise.runtime.generate.UnsupportedOptionException}.</li>
 *   <li>Output folders appear atomically, replacing an earlier result only when the new one is complete and
 *       checked.</li>
 *   <li>Options and results are immutable values; every facade method is thread-safe.</li>
 *   <li>Per architecture, the generated {@code <Arch>Exporter.run(...)} classes (for example {@code LlamaExporter} in
 *       {@code stepwise-models}) are the typed entry points; they do what {@code Stepwise.export} does.</li>
 * </ul>
 */
package dev.stepwise.runtime;
