// Delivery outcomes of a Postfix instance, counted from its mail log as it grows (maillog_file):
// one line per recipient and attempt, `postfix/smtp[pid]: QUEUEID: to=<rcpt>, ..., status=sent`.
// Counted by outcome and by the recipient's mailbox-provider group (the groups the warm-up
// schedule and the instance's transports use); each instance is one sending IP, so these are the
// IP's counters. Only mail sent out (the smtp client) counts; bounces handed to the platform by
// LMTP are counted apart.
import { open, stat } from 'node:fs/promises';

export type Outcome = 'sent' | 'deferred' | 'bounced' | 'expired';
export type ProviderGroup = 'gmail' | 'microsoft' | 'yahoo' | 'other';

const LINE =
  /postfix(?:-[^/\s]+)?\/(smtp|lmtp|gmail|microsoft|yahoo)\[\d+\]: [0-9A-Za-z]+: to=<([^>]*)>.*, status=(sent|deferred|bounced|expired)\b/;

/** The same grouping as mail-stack/postfix/provider-groups.regexp. */
export function providerGroup(address: string): ProviderGroup {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  if (/^(gmail|googlemail)\.com$/.test(domain)) return 'gmail';
  if (/^(outlook|hotmail|live|msn)\.[a-z.]+$/.test(domain)) return 'microsoft';
  if (/^(yahoo|ymail|aol|rocketmail)\.[a-z.]+$/.test(domain)) return 'yahoo';
  return 'other';
}

export interface LogLine {
  transport: 'smtp' | 'lmtp';
  group: ProviderGroup;
  outcome: Outcome;
}

export function parseLogLine(line: string): LogLine | null {
  const m = LINE.exec(line);
  if (!m) return null;
  return {
    transport: m[1] === 'lmtp' ? 'lmtp' : 'smtp',
    group: providerGroup(m[2]!),
    outcome: m[3] as Outcome,
  };
}

/**
 * Follows a log file from its current end: `poll()` reads what was appended since and hands each
 * whole line over. A file that shrank was rotated or truncated: it is read again from the start.
 * With `truncateAbove`, a file read past that many bytes is emptied (Postfix appends with
 * O_APPEND, so its next line lands at the new start): the sidecar is then the log's only reader,
 * and what Postfix writes between the last read and the truncation is not counted.
 */
export function followLog(path: string, onLine: (line: string) => void, truncateAbove?: number) {
  let offset: number | undefined;
  let partial = '';
  return {
    async poll(): Promise<void> {
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      if (offset === undefined) offset = size;
      if (size < offset) {
        offset = 0;
        partial = '';
      }
      if (size === offset) return;
      const file = await open(path, truncateAbove === undefined ? 'r' : 'r+');
      try {
        const buffer = Buffer.alloc(size - offset);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
        offset += bytesRead;
        const lines = (partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
        if (truncateAbove !== undefined && offset > truncateAbove && !partial) {
          await file.truncate(0);
          offset = 0;
        }
      } finally {
        await file.close();
      }
    },
  };
}
