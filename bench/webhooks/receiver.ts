// The benchmark's webhook receiver: a local HTTP server that answers 200 (after `delayMs`, so that a
// kill or a fault finds POSTs in flight) and counts, per event id, the POSTs that carried it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  url: string;
  /** POSTs received, repeats included. */
  posts(): number;
  /** Distinct event ids received. */
  events(): number;
  /** POSTs beyond the first of their event. */
  duplicates(): number;
  /** The ids of `expected` never received. */
  missing(expected: Iterable<string>): number;
  close(): Promise<void>;
}

export async function startReceiver(delayMs = 0): Promise<Receiver> {
  const byEvent = new Map<string, number>();
  let posts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = () => {
        const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string };
        posts++;
        byEvent.set(id, (byEvent.get(id) ?? 0) + 1);
        res.end('ok');
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    posts: () => posts,
    events: () => byEvent.size,
    duplicates: () => posts - byEvent.size,
    missing: (expected) => {
      let n = 0;
      for (const id of expected) if (!byEvent.has(id)) n++;
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
