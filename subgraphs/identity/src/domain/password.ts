// Password rules (NIST SP 800-63B style): length over composition, no common or
// context-derived passwords, no upper limit games beyond a sane maximum.

const COMMON = new Set([
  'password',
  'password1',
  'password123',
  '1234567890',
  '12345678910',
  'qwertyuiop',
  'iloveyou123',
  'letmein123',
  'welcome123',
  'administrator',
  'passw0rd123',
  'abc1234567',
  'qwerty12345',
  '1q2w3e4r5t',
  'football123',
  'monkey12345',
  'dragon12345',
  'baseball123',
  'sunshine123',
  'princess123',
  'trustno1234',
  'changeme123',
  'mauntic1234',
]);

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 256;

/** Reasons the password is weak; empty when it is acceptable. */
export function passwordWeaknesses(password: string, context: { email?: string; name?: string } = {}): string[] {
  const reasons: string[] = [];
  const lower = password.toLowerCase();
  if ([...password].length < MIN_PASSWORD_LENGTH) reasons.push(`use at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) reasons.push(`use at most ${MAX_PASSWORD_LENGTH} characters`);
  if (COMMON.has(lower)) reasons.push('this password is too common');
  if (new Set(password).size < 4) reasons.push('use more different characters');
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) reasons.push('do not use your email address');
  const name = context.name?.toLowerCase().trim();
  if (name && name.length >= 4 && lower.includes(name)) reasons.push('do not use your name');
  return reasons;
}
