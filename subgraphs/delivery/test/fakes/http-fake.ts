// An HTTP server for tests that records every request and answers with the shapes the providers
// document. Routes are matched in the order they were added; `failNext` answers the next matching
// requests with an error before the normal route runs again.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json(): any;
  /** application/x-www-form-urlencoded fields. */
  form(): URLSearchParams;
  /** multipart/form-data fields (values as strings; file parts as their content). */
  multipart(): Map<string, string[]>;
}

export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Hold the response this long (timeouts). */
  delayMs?: number;
}

type Responder = (request: RecordedRequest) => FakeResponse;

interface Route {
  method: string;
  path: RegExp;
  respond: Responder;
}

export interface HttpFake {
  url: string;
  requests: RecordedRequest[];
  route(method: string, path: RegExp, respond: Responder): void;
  /** The next `times` requests matching `path` get this response instead. */
  failNext(path: RegExp, response: FakeResponse, times?: number): void;
  reset(): void;
  close(): Promise<void>;
}

function parseMultipart(contentType: string, body: Buffer): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return fields;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  for (const part of body.toString('latin1').split(delimiter)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = /name="([^"]*)"/i.exec(part.slice(0, headerEnd))?.[1];
    if (name === undefined) continue;
    const value = Buffer.from(part.slice(headerEnd + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8');
    fields.set(name, [...(fields.get(name) ?? []), value]);
  }
  return fields;
}

export async function startHttpFake(): Promise<HttpFake> {
  const routes: Route[] = [];
  const failures: { path: RegExp; response: FakeResponse; remaining: number }[] = [];
  const requests: RecordedRequest[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks);
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        text: () => body.toString('utf8'),
        json: () => JSON.parse(body.toString('utf8')),
        form: () => new URLSearchParams(body.toString('utf8')),
        multipart: () => parseMultipart(String(req.headers['content-type'] ?? ''), body),
      };
      requests.push(recorded);
      const failure = failures.find((f) => f.remaining > 0 && f.path.test(recorded.path));
      let response: FakeResponse;
      if (failure) {
        failure.remaining -= 1;
        response = failure.response;
      } else {
        const route = routes.find((r) => r.method === recorded.method && r.path.test(recorded.path));
        response = route ? route.respond(recorded) : { status: 404, body: { message: 'no such route' } };
      }
      const send = () => {
        const payload =
          response.body === undefined
            ? ''
            : typeof response.body === 'string'
              ? response.body
              : JSON.stringify(response.body);
        const headers: Record<string, string> = { ...(response.headers ?? {}) };
        if (payload && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
          headers['Content-Type'] = typeof response.body === 'string' ? 'text/plain' : 'application/json';
        }
        res.writeHead(response.status ?? 200, headers);
        res.end(payload);
      };
      if (response.delayMs) setTimeout(send, response.delayMs);
      else send();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route(method, path, respond) {
      routes.push({ method, path, respond });
    },
    failNext(path, response, times = 1) {
      failures.push({ path, response, remaining: times });
    },
    reset() {
      failures.length = 0;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Documented response shapes, one per provider.

/** Twilio Message resource (POST /2010-04-01/Accounts/{Sid}/Messages.json → 201). */
export function twilioMessage(request: RecordedRequest): FakeResponse {
  const form = request.form();
  const accountSid = /\/Accounts\/([^/]+)\//.exec(request.path)?.[1] ?? '';
  const sid = `SM${String(request.body.length).padStart(32, '0')}`;
  return {
    status: 201,
    body: {
      account_sid: accountSid,
      api_version: '2010-04-01',
      body: form.get('Body'),
      date_created: new Date().toUTCString(),
      date_sent: null,
      date_updated: new Date().toUTCString(),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: form.get('From'),
      messaging_service_sid: form.get('MessagingServiceSid'),
      num_media: '0',
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid,
      status: 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      to: form.get('To'),
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    },
  };
}

/** Twilio error body (RestException). */
export function twilioError(status: number, code: number, message: string): FakeResponse {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

/** SendGrid v3 /mail/send: 202, empty body, X-Message-Id header. */
export function sendgridAccepted(): FakeResponse {
  return { status: 202, headers: { 'X-Message-Id': 'sg-message-id-1' } };
}

export function sendgridError(status: number, message: string): FakeResponse {
  return { status, body: { errors: [{ message, field: null, help: null }] } };
}

/** Mailgun /v3/{domain}/messages(.mime): {id, message}. */
export function mailgunQueued(): FakeResponse {
  return { status: 200, body: { id: '<20240101000000.1.ABCDEF@example.org>', message: 'Queued. Thank you.' } };
}

/** SES v2 SendEmail: {MessageId}. */
export function sesSent(): FakeResponse {
  return { status: 200, body: { MessageId: '0100018c-ses-message-id' } };
}

/** SES v2 error: type in the x-amzn-ErrorType header, message in the body. */
export function sesError(status: number, type: string, message: string): FakeResponse {
  return { status, headers: { 'x-amzn-ErrorType': type }, body: { message } };
}

/** Plivo Message create: 202 with message_uuid list. */
export function plivoQueued(): FakeResponse {
  return {
    status: 202,
    body: {
      api_id: 'db342550-7f1d-11e1-8ea7-1231380bc196',
      message: 'message(s) queued',
      message_uuid: ['db3ce55a-7f1d-11e1-8ea7-1231380bc196'],
    },
  };
}

/** FCM v1 messages:send: the message name. */
export function fcmSent(request: RecordedRequest): FakeResponse {
  const project = /\/projects\/([^/]+)\//.exec(request.path)?.[1] ?? 'x';
  return { status: 200, body: { name: `projects/${project}/messages/0:1500415314455276%31bd1c9631bd1c96` } };
}

export function fcmError(status: number, grpcStatus: string, errorCode: string): FakeResponse {
  return {
    status,
    body: {
      error: {
        code: status,
        message: `Requested entity ${errorCode}`,
        status: grpcStatus,
        details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }],
      },
    },
  };
}

/** OAuth2 token endpoint answering a JWT bearer grant. */
export function oauthToken(): FakeResponse {
  return { status: 200, body: { access_token: 'ya29.fake-access-token', expires_in: 3599, token_type: 'Bearer' } };
}
