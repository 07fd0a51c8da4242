// Spam scoring of a rendered email by Rspamd (its HTTP protocol: POST /checkv2 with the message,
// https://rspamd.com/doc/developers/protocol.html), for template previews: the score, the score
// at which Rspamd would reject, its action and the rules that fired, so a marketer sees why before
// sending. The address is the operator's (DELIVERY_RSPAMD_URL), never an organization's.

export interface SpamRule {
  name: string;
  score: number;
  description: string | null;
}

export interface SpamReport {
  score: number;
  /** The score at which Rspamd rejects. */
  requiredScore: number;
  /** no action, greylist, add header, rewrite subject, soft reject or reject. */
  action: string;
  /** The rules that moved the score, largest effect first. */
  rules: SpamRule[];
}

export interface SpamChecker {
  check(raw: Buffer, envelope: { from: string; to: string }): Promise<SpamReport>;
}

interface CheckV2Answer {
  score: number;
  required_score: number;
  action: string;
  symbols?: Record<string, { name: string; score: number; description?: string }>;
}

export function rspamdChecker(url: string, timeoutMs = 5000): SpamChecker {
  const endpoint = new URL('checkv2', url.endsWith('/') ? url : `${url}/`);
  return {
    async check(raw, envelope) {
      const response = await fetch(endpoint, {
        method: 'POST',
        // Rspamd reads the envelope from these headers; without them it guesses from the message.
        headers: { From: envelope.from, Rcpt: envelope.to, 'Content-Type': 'message/rfc822' },
        body: raw,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`rspamd answered ${response.status}`);
      const answer = (await response.json()) as CheckV2Answer;
      const rules = Object.values(answer.symbols ?? {})
        .filter((s) => s.score !== 0)
        .map((s) => ({ name: s.name, score: s.score, description: s.description ?? null }))
        .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.name.localeCompare(b.name));
      return { score: answer.score, requiredScore: answer.required_score, action: answer.action, rules };
    },
  };
}
