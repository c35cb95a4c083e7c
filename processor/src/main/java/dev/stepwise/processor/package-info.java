/**
 * The {@code @OnnxConfig} annotation processor.
 *
 * <p>Flow, one step per class: {@link dev.stepwise.processor.OnnxConfigProcessor} (thin: finds annotated classes)
 * → {@link dev.stepwise.processor.OnnxConfigReader} (annotation mirror → {@link dev.stepwise.processor.OnnxConfigModel},
 * every value kept with its {@link dev.stepwise.processor.Where place}) → {@link dev.stepwise.processor.OnnxConfigValidator}
 * (reports every problem on the offending value) → for a valid model only, one generator per generated file
 * ({@link dev.stepwise.processor.ExporterGenerator}, {@link dev.stepwise.processor.ConfigGenerator},
 * {@link dev.stepwise.processor.DummyInputsGenerator}) and the {@link dev.stepwise.processor.ServiceFile}.
 *
 * <p>Runtime types are named, never imported ({@link dev.stepwise.processor.RuntimeTypes}): the processor runs
 * without the runtime on its class path.
 */
package dev.stepwise.processor;
