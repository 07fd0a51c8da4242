// The load generator's process (plain JS, started by load.ts): `connections` keep-alive HTTP/1.1
// clients, each sending the next request when the last returns, for `durationMs`. With
// `requestsPerSecond` the load is open instead: the clients share a fixed schedule (connection i
// sends at start + (i + k * connections) / rate), and a latency is counted from the time a request
// was due, not from when a busy client got to send it, so a stall shows in the percentiles instead
// of slowing the schedule down (the coordinated omission wrk2 corrects). node:http, not
// fetch: on these 2-core machines fetch tops out near 500 requests a second against a server that
// does nothing, so it measured itself instead of the server.
import http from 'node:http';

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const body = Buffer.from(spec.body);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
const options = {
  agent,
  host: url.hostname,
  port: url.port,
  path: url.pathname + url.search,
  method: 'POST',
  headers: { ...spec.headers, 'content-length': String(body.length) },
};

const latenciesMs = [];
let requests = 0;
let errors = 0;

/** One request; true when it was answered 200 without GraphQL errors. */
const send = () =>
  new Promise((resolve) => {
    const request = http.request(options, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve(response.statusCode === 200 && !Buffer.concat(chunks).includes('"errors"')));
      response.on('error', () => resolve(false));
    });
    request.on('error', () => resolve(false));
    request.end(body);
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = performance.now();
const deadline = started + spec.durationMs;
const interval = spec.requestsPerSecond ? 1000 / spec.requestsPerSecond : 0;
await Promise.all(
  Array.from({ length: spec.connections }, async (_, i) => {
    for (let k = 0; ; k++) {
      const due = interval ? started + (i + k * spec.connections) * interval : performance.now();
      if (due >= deadline) break;
      if (due > performance.now()) await sleep(due - performance.now());
      if (!(await send())) errors++;
      latenciesMs.push(performance.now() - due);
      requests++;
    }
  }),
);
agent.destroy();
process.stdout.write(JSON.stringify({ requests, errors, seconds: (performance.now() - started) / 1000, latenciesMs }));
