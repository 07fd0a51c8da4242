import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../logger.ts';
import { startHttpServer } from '../server/http.ts';
import { startOtlpReceiver } from '../testing/otlp-receiver.ts';
import {
  contextFromTraceparent,
  injectTraceHeaders,
  inSpan,
  SpanKind,
  startTracing,
  stopTracing,
  traceparentOf,
  tracing,
  tracingRequested,
} from './tracing.ts';

const logger = createLogger('tracing-test', 'silent');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

afterEach(async () => {
  await stopTracing();
  vi.unstubAllEnvs();
});

describe('tracing', () => {
  it('is asked for by an OTLP endpoint or an exporter name, and never by none or OTEL_SDK_DISABLED', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(
      false,
    );
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
  });

  it('off by default: no SDK, no trace headers, no traceparent, nothing exported', async () => {
    const receiver = await startOtlpReceiver();
    // Everything but the endpoint: tracing stays off.
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    vi.stubEnv('OTEL_SERVICE_NAME', 'unit');
    try {
      expect(await startTracing('unit')).toBe(false);
      expect(tracing.enabled).toBe(false);
      const headers: Record<string, string> = {};
      let recording: boolean | undefined;
      await inSpan('work', { kind: SpanKind.SERVER }, async (span) => {
        recording = span.isRecording();
        injectTraceHeaders((name, value) => {
          headers[name] = value;
        });
        expect(traceparentOf()).toBeUndefined();
      });
      expect(recording).toBe(false);
      expect(headers).toEqual({});

      // A request that arrives with a trace context is served, and nothing is exported.
      const http = await startHttpServer(
        {
          service: 'unit',
          logger,
          routes: { '/work': async () => ({ status: 200, body: traceparentOf() ?? 'none' }) },
        },
        0,
        '127.0.0.1',
      );
      try {
        const answer = await fetch(`${http.url}/work`, {
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        });
        expect(await answer.text()).toBe('none');
      } finally {
        await http.close();
      }
      await stopTracing();
      expect(receiver.requests).toBe(0);
    } finally {
      await receiver.close();
    }
  });

  it('on: requests continue the caller trace, context crosses a traceparent, and spans are exported', async () => {
    const receiver = await startOtlpReceiver();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    // The operator's name wins over the deployable's own.
    vi.stubEnv('OTEL_SERVICE_NAME', 'unit-renamed');
    try {
      expect(await startTracing('unit')).toBe(true);
      const callerTrace = '0af7651916cd43dd8448eb211c80319c';
      const callerSpan = 'b7ad6b7169203331';
      let carried: string | undefined;
      const http = await startHttpServer(
        {
          service: 'unit',
          logger,
          routes: {
            '/work': async () => {
              // What the outbox keeps with an event, and a consumer continues from.
              carried = traceparentOf();
              await inSpan(
                'consume',
                { kind: SpanKind.CONSUMER, parent: contextFromTraceparent(carried) },
                async () => {
                  const headers: Record<string, string> = {};
                  injectTraceHeaders((name, value) => {
                    headers[name] = value;
                  });
                  expect(headers.traceparent).toMatch(TRACEPARENT);
                },
              );
              return { status: 202 };
            },
          },
        },
        0,
        '127.0.0.1',
      );
      try {
        const answer = await fetch(`${http.url}/work`, {
          headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` },
        });
        expect(answer.status).toBe(202);
        // Probes are not traced.
        expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
      } finally {
        await http.close();
      }
      await stopTracing();

      expect(carried).toMatch(TRACEPARENT);
      const [, carriedTrace, carriedSpan] = TRACEPARENT.exec(carried!)!;
      expect(carriedTrace).toBe(callerTrace);
      const server = receiver.spans.find((s) => s.name === 'GET /work');
      const consume = receiver.spans.find((s) => s.name === 'consume');
      expect(server).toMatchObject({
        service: 'unit-renamed',
        traceId: callerTrace,
        parentSpanId: callerSpan,
        kind: 2,
        attributes: { 'http.route': '/work', 'http.response.status_code': 202 },
      });
      expect(consume).toMatchObject({ traceId: callerTrace, parentSpanId: server!.spanId, kind: 5 });
      expect(carriedSpan).toBe(server!.spanId);
      expect(receiver.spans.map((s) => s.name)).not.toContain('GET /healthz');
    } finally {
      await receiver.close();
    }
  });

  it('exports OTLP http/protobuf when no protocol is named', async () => {
    const receiver = await startOtlpReceiver();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    try {
      expect(await startTracing('unit')).toBe(true);
      await inSpan('work', {}, async () => {});
      await stopTracing();
      expect(receiver.contentTypes).toEqual(['application/x-protobuf']);
    } finally {
      await receiver.close();
    }
  });
});
