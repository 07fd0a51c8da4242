// The engine's local record of what it handed to providers, written synchronously as it happens.
// A process killed with SIGKILL loses nothing written here (the kernel holds the page), so on
// restart the engine knows which of its claimed messages left, even when it died before the
// database heard about them.
//
// Lines: `H <id>` the whole message was handed to the provider (for SMTP: the body and the final
// dot went to the socket; RFC 1047 — the server has it even if its reply never reached us),
// `S <id> <provider id>` the provider accepted it.
//
// A lane's journal holds the batch it has in flight, and is cleared once that batch is recorded in
// the database: never before, so what it says is there until the database says it too.
//
// Only `H` is written at once. `S` lines wait for the next write (the next hand-over, or the end
// of the batch), so a message costs one write instead of two. A kill before they reach the file
// loses nothing that matters: a message with `H` and no `S` is settled as sent, `unconfirmed`,
// without the provider's id.
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface JournalState {
  /** Accepted by the provider, with its message id (or ''). */
  sent: Map<string, string>;
  /** Handed over, reply unknown. */
  handed: Set<string>;
}

export class Journal {
  private readonly fd: number;
  /** `S` lines not yet written. */
  private pending = '';

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  handed(id: string): void {
    writeSync(this.fd, `${this.pending}H ${id}\n`);
    this.pending = '';
  }

  sent(id: string, providerMessageId: string | null): void {
    this.pending += `S ${id} ${providerMessageId ?? ''}\n`;
  }

  /** Writes the `S` lines still waiting. */
  flush(): void {
    if (!this.pending) return;
    writeSync(this.fd, this.pending);
    this.pending = '';
  }

  /** Its batch is recorded in the database now. */
  clear(): void {
    this.pending = '';
    ftruncateSync(this.fd, 0);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** The journal files an engine named `owner` left in `dir` (one per batch lane). */
export function journalFiles(dir: string, owner: string): string[] {
  if (!existsSync(dir)) return [];
  const prefix = `${owner}.`;
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.journal'))
    .map((f) => join(dir, f));
}

/** Empties journals whose batches are all recorded. */
export function clearJournals(files: string[]): void {
  for (const file of files) truncateSync(file, 0);
}

export function journalFile(dir: string, owner: string, lane: number): string {
  mkdirSync(dir, { recursive: true });
  return join(dir, `${owner}.${lane}.journal`);
}

export function readJournals(files: string[]): JournalState {
  const state: JournalState = { sent: new Map(), handed: new Set() };
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [kind, id, providerId] = line.split(' ');
      if (!id) continue;
      if (kind === 'S') state.sent.set(id, providerId ?? '');
      else if (kind === 'H') state.handed.add(id);
    }
  }
  for (const id of state.sent.keys()) state.handed.delete(id);
  return state;
}
