// OpenTelemetry traces, off unless the standard OTEL_* variables ask for them. Off, no SDK is
// loaded and every helper here returns at its first line (`tracing.enabled` is false), so the
// hot paths that call them (each HTTP request, each event, each message sent) pay one branch.
// On, spans go through a batching OTLP exporter (http/protobuf, or http/json) configured by the
// SDK itself from OTEL_EXPORTER_OTLP_*, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES; context travels in W3C `traceparent` headers over HTTP and Kafka,
// and on the event envelope through the outbox (see docs/configuration.md, "Tracing").
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

export type { Context, Span };
export { SpanKind };

/** Read by the hot paths before doing any tracing work. */
export const tracing = { enabled: false };

/** What the SDK needs to flush and stop. */
let provider: { shutdown(): Promise<void> } | undefined;

/**
 * Whether the environment asks for traces: an OTLP endpoint, or OTEL_TRACES_EXPORTER naming an
 * exporter (`otlp`, `console`); never when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter) return exporter !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the SDK once per process if the environment asks for it; `service` names the process
 * unless OTEL_SERVICE_NAME does. The SDK is imported only then, so a process without tracing
 * never loads it. Resolves true when tracing is on.
 */
export async function startTracing(service: string): Promise<boolean> {
  // The SDK and its exporters read process.env themselves: the decision reads the same.
  const env = process.env;
  if (tracing.enabled || !tracingRequested(env)) return tracing.enabled;
  const [{ NodeTracerProvider, BatchSpanProcessor, ConsoleSpanExporter }, resources, core] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  const exporter =
    env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'console' ? new ConsoleSpanExporter() : await otlpExporter(env);
  const resource = resources
    .resourceFromAttributes({ 'service.name': service })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const sdk = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  // Only the trace context is carried (no baggage): it is all the envelope keeps.
  sdk.register({ propagator: new core.W3CTraceContextPropagator() });
  provider = sdk;
  tracing.enabled = true;
  return true;
}

async function otlpExporter(env: NodeJS.ProcessEnv) {
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol === 'http/json')
    return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  if (protocol === 'http/protobuf')
    return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL ${protocol} is not supported: use http/protobuf or http/json`);
}

/** Exports the spans still buffered and stops the SDK (a step of the process's shutdown). */
export async function stopTracing(): Promise<void> {
  const running = provider;
  provider = undefined;
  tracing.enabled = false;
  await running?.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
}

const tracer = () => trace.getTracer('mauntic');

/** A span that records nothing: what `inSpan` hands its function while tracing is off. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent; default: the active context. */
  parent?: Context;
}

/**
 * Runs `fn` in a new active span that ends when it settles (a throw sets the error status).
 * Off: just runs `fn`.
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!tracing.enabled) return fn(NO_SPAN);
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    {
      ...(options.kind !== undefined ? { kind: options.kind } : {}),
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        failSpan(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Starts a span that the caller ends (spans that cover several messages' sends at once); undefined when off. */
export function startSpan(name: string, options: SpanOptions): Span | undefined {
  if (!tracing.enabled) return undefined;
  const { parent, kind, attributes } = options;
  return tracer().startSpan(
    name,
    { ...(kind !== undefined ? { kind } : {}), ...(attributes ? { attributes } : {}) },
    parent ?? context.active(),
  );
}

export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The W3C traceparent of `ctx` (default: the active context), or undefined when off or there is no span. */
export function traceparentOf(ctx?: Context): string | undefined {
  if (!tracing.enabled) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx ?? context.active(), carrier);
  return carrier.traceparent;
}

/** A context whose active span is `span`, for injecting it without making it active. */
export const contextOfSpan = (span: Span): Context => trace.setSpan(ROOT_CONTEXT, span);

/** The context a traceparent names (a remote parent), or the root context when there is none. */
export function contextFromTraceparent(traceparent: string | undefined | null): Context {
  if (!tracing.enabled || !traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** The context carried by request or message headers (traceparent, tracestate). */
export function contextFromHeaders(
  headers: Record<string, string | Buffer | (string | Buffer)[] | undefined>,
): Context {
  if (!tracing.enabled) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => {
      const value = carrier[key];
      const first = Array.isArray(value) ? value[0] : value;
      return first === undefined ? undefined : first.toString();
    },
  });
}

/** Adds the active context's traceparent (and tracestate) to outgoing headers; nothing when off. */
export function injectTraceHeaders(set: (name: string, value: string) => void, ctx?: Context): void {
  if (!tracing.enabled) return;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx ?? context.active(), carrier);
  for (const [name, value] of Object.entries(carrier)) set(name, value);
}
