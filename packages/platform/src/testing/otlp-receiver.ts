// An OTLP/HTTP trace receiver for tests: takes what the SDK's http/json exporter posts to
// /v1/traces and keeps every span, flattened with its service name. Protobuf exports are accepted
// and counted (with their content type), not decoded.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTracing, stopTracing } from '../telemetry/tracing.ts';

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's numbers: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** How many export requests arrived (any content type). */
  requests: number;
  /** The content type of each, in order. */
  contentTypes: string[];
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: KeyValue[];
      }[];
    }[];
  }[];
}

const plainValue = (v: AnyValue) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));
const attributesOf = (list: KeyValue[] = []) => Object.fromEntries(list.map((a) => [a.key, plainValue(a.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { url: '', spans: [], requests: 0, contentTypes: [], close: async () => {} };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    receiver.requests++;
    receiver.contentTypes.push(req.headers['content-type'] ?? '');
    if (req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    // An empty protobuf ExportTraceServiceResponse: accepted, not decoded.
    if (req.headers['content-type'] === 'application/x-protobuf') {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      return;
    }
    if (req.headers['content-type'] !== 'application/json') {
      res.writeHead(415).end();
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest;
    for (const { resource, scopeSpans = [] } of body.resourceSpans ?? []) {
      const service = String(attributesOf(resource?.attributes)['service.name'] ?? '');
      for (const { spans = [] } of scopeSpans)
        for (const span of spans)
          receiver.spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
          });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

/**
 * Tracing on in this process, exporting to a fresh in-test OTLP receiver. The SDK is configured
 * only by the standard `OTEL_*` variables (as in production), so they are set here for the test
 * and `stop()` puts them back, ends tracing and closes the receiver.
 */
export async function traceToReceiver(service: string): Promise<{ receiver: OtlpReceiver; stop: () => Promise<void> }> {
  const receiver = await startOtlpReceiver();
  const settings: Record<string, string> = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  };
  const before = Object.fromEntries(Object.keys(settings).map((name) => [name, process.env[name]]));
  Object.assign(process.env, settings);
  const restore = () => {
    for (const [name, value] of Object.entries(before))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  };
  if (!(await startTracing(service))) {
    restore();
    await receiver.close();
    throw new Error('tracing did not start');
  }
  return {
    receiver,
    stop: async () => {
      await stopTracing();
      restore();
      await receiver.close();
    },
  };
}
