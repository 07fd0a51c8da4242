// The bounce parsers and classifier over real bounce mail: fixtures/bounces holds sisimai's sample
// bounces (Postfix, Exim, Sendmail, qmail, Exchange, Gmail, Microsoft 365, Yahoo, Amazon SES,
// Zoho, GMX, Tencent ...) with sisimai's own labels. It measures how often the failed recipient is
// found, and the precision and recall of a hard bounce (suppress the address) against sisimai's
// `hardbounce`, and fails below the goals of issue 11.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Feedback, parseInboundMessage } from '@mauntic/delivery/inbound';
import { describe, expect, it } from 'vitest';

const CORPUS = join(import.meta.dirname, 'fixtures', 'bounces');

interface Label {
  file: string;
  /** Null when the report names nobody (a complaint with the recipient redacted). */
  recipient: string | null;
  status: string | null;
  reason: string;
  hardbounce: boolean;
  feedback_type?: string;
}

const labels: Label[] = JSON.parse(readFileSync(join(CORPUS, 'labels.json'), 'utf8'));
const files = [...new Set(labels.map((l) => l.file))];
const parsed = new Map(files.map((file) => [file, parseInboundMessage(readFileSync(join(CORPUS, 'eml', file)))]));

const feedbackFor = (label: Label): Feedback | undefined =>
  parsed.get(label.file)!.feedback.find((f) => f.recipient === label.recipient);
const isHard = (f: Feedback | undefined) => f?.kind === 'bounce' && f.bounceType === 'hard';

// sisimai's hardbounce is true for user unknown, host unknown, moved and permanent "not accept".
// Its `suspend` (a disabled, inactive or suspended mailbox) is not hard there, but is our
// mailbox_disabled, which suppresses: a disabled mailbox is a dead address to a sender of
// marketing mail. Counted as hard here; the strict figures are printed too.
const dead = (label: Label) => label.hardbounce || label.reason === 'suspend';

function hardBounceScores(isDead: (label: Label) => boolean) {
  let truePositives = 0;
  let falsePositives = 0;
  let falseNegatives = 0;
  for (const label of labels) {
    const hard = isHard(feedbackFor(label));
    if (hard && isDead(label)) truePositives++;
    else if (hard) falsePositives++;
    else if (isDead(label)) falseNegatives++;
  }
  // A hard bounce for an address no label names (a Message-ID read as an address) suppresses
  // somebody for nothing: a false positive too.
  for (const file of files) {
    const named = new Set(labels.filter((l) => l.file === file).map((l) => l.recipient));
    falsePositives += parsed.get(file)!.feedback.filter((f) => isHard(f) && !named.has(f.recipient ?? null)).length;
  }
  return {
    truePositives,
    falsePositives,
    falseNegatives,
    precision: truePositives / (truePositives + falsePositives),
    recall: truePositives / (truePositives + falseNegatives),
  };
}

describe('real bounce mail (sisimai samples)', () => {
  it('every labelled message parses, and the failed recipient is found in at least 95% of them', () => {
    // An RFC 6591 auth-failure report is a DMARC sample, deliberately no feedback.
    const expected = labels.filter((l) => l.recipient !== null && l.feedback_type !== 'auth-failure');
    const found = expected.filter((l) => feedbackFor(l));
    const rate = found.length / expected.length;
    console.info(
      `bounce corpus: ${files.length} messages, ${labels.length} labels; recipient found for ${found.length}/${expected.length} = ${rate.toFixed(3)}`,
    );
    expect(rate).toBeGreaterThanOrEqual(0.95);
  });

  it('hard bounces reach precision >= 0.95 and recall >= 0.90 against sisimai hardbounce (suspend counted dead)', () => {
    const scores = hardBounceScores(dead);
    const strict = hardBounceScores((l) => l.hardbounce);
    console.info(
      `hard bounces: precision ${scores.precision.toFixed(3)}, recall ${scores.recall.toFixed(3)} (tp ${scores.truePositives}, fp ${scores.falsePositives}, fn ${scores.falseNegatives}); ` +
        `strict sisimai hardbounce (suspend not hard): precision ${strict.precision.toFixed(3)}, recall ${strict.recall.toFixed(3)}`,
    );
    const misses = labels
      .filter((l) => isHard(feedbackFor(l)) !== dead(l))
      .map((l) => `${l.file} ${l.recipient}: sisimai ${l.reason} ${l.status}, ours ${reasonOf(feedbackFor(l))}`);
    console.info(`disagreements:\n  ${misses.join('\n  ')}`);
    expect(scores.precision).toBeGreaterThanOrEqual(0.95);
    expect(scores.recall).toBeGreaterThanOrEqual(0.9);
  });

  it('no sender-caused rejection is hard: authentication, block lists, rate limits, sender, relaying, content', () => {
    const senderCaused = new Set([
      'authfailure',
      'requireptr',
      'securityerror',
      'policyviolation',
      'blocked',
      'badreputation',
      'ratelimited',
      'speeding',
      'toomanyconn',
      'rejected',
      'norelaying',
      'spamdetected',
      'virusdetected',
      'notcompliantrfc',
      'syntaxerror',
      'mesgtoobig',
      'emailtoolarge',
    ]);
    const suppressed = labels.filter((l) => senderCaused.has(l.reason) && isHard(feedbackFor(l)));
    expect(suppressed.map((l) => l.file)).toEqual([]);
    expect(labels.filter((l) => senderCaused.has(l.reason)).length).toBeGreaterThan(60);
  });
});

function reasonOf(feedback: Feedback | undefined): string {
  if (!feedback) return 'nothing';
  return feedback.kind === 'bounce' ? `${feedback.bounceType} ${feedback.reason}` : feedback.kind;
}
