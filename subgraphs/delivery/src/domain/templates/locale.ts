// Locale variants: a template's content per BCP 47 tag, chosen for a contact by falling back from
// the most specific tag to its language (fr-CA → fr → the template's default content).

/** The canonical form of a tag ("fr_ca" → "fr-CA"), or null when it is not a valid BCP 47 tag. */
export function canonicalLocale(tag: string): string | null {
  try {
    return Intl.getCanonicalLocales(tag.trim().replaceAll('_', '-'))[0] ?? null;
  } catch {
    return null;
  }
}

/** The tags to try for a requested locale, most specific first: zh-Hant-TW, zh-Hant, zh. */
export function localeFallbacks(requested: string | null | undefined): string[] {
  if (!requested) return [];
  const canonical = canonicalLocale(requested);
  if (!canonical) return [];
  const parts = canonical.split('-');
  const chain: string[] = [];
  for (let n = parts.length; n > 0; n--) {
    // A lone single-letter subtag starts an extension ("-u-", "-x-"): never end a candidate on it.
    if (parts[n - 1]!.length === 1) continue;
    chain.push(parts.slice(0, n).join('-'));
  }
  return chain;
}

/** The variant key to use for a contact's locale, or null for the default content. */
export function selectLocale(available: Iterable<string>, requested: string | null | undefined): string | null {
  const byLower = new Map<string, string>();
  for (const key of available) byLower.set(key.toLowerCase(), key);
  for (const candidate of localeFallbacks(requested)) {
    const hit = byLower.get(candidate.toLowerCase());
    if (hit) return hit;
  }
  return null;
}
