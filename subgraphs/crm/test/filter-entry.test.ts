// `@mauntic/crm/filter`, the entry other contexts check filters with: declared in the package,
// pure (nothing it imports, however deep, reaches a database, drizzle or the platform), and it
// checks a tree against the fields and segments its caller passes.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newId } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';
import { type FilterField, referencedFields, referencedSegments, validateFilter } from '../src/filter.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every module the file imports, followed through relative imports; packages are listed, not entered. */
function importsOf(file: string, seen = new Set<string>(), packages = new Set<string>()) {
  if (seen.has(file)) return { seen, packages };
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const [, specifier] of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
    if (specifier!.startsWith('.')) importsOf(resolve(dirname(file), specifier!), seen, packages);
    else packages.add(specifier!);
  }
  return { seen, packages };
}

describe('the filter entry (@mauntic/crm/filter)', () => {
  it('is declared in the package, with its source and its build', () => {
    const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
    expect(manifest.exports['./filter']).toEqual({ source: './src/filter.ts', default: './dist/filter.js' });
  });

  it('imports nothing that touches a database, however deep', () => {
    const { seen, packages } = importsOf(resolve(root, 'src/filter.ts'));
    const files = [...seen].map((f) => f.slice(root.length));
    expect(files.every((f) => f.startsWith('src/domain/') || f === 'src/filter.ts')).toBe(true);
    expect([...packages].sort()).toEqual(['@mauntic/kernel', 'libphonenumber-js', 'zod']);
  });

  it("checks a tree against the caller's fields and segments, every issue with its path", () => {
    const fields: FilterField[] = [
      { entity: 'contact', key: 'plan', type: 'select', options: { choices: ['free', 'pro'] } },
      { entity: 'contact', key: 'renewal', type: 'date', options: {} },
    ];
    const known = newId();
    const context = { fields, segmentExists: (id: string) => id === known };
    const tree = {
      and: [
        { field: 'fields.plan', op: 'eq', value: 'pro' },
        { field: 'fields.renewal', op: 'lt', value: '-7 days' },
        { segment: { id: known, member: true } },
      ],
    };
    const checked = validateFilter(tree, context);
    if (!checked.ok) throw checked.error;
    expect([...referencedFields(checked.value)].sort()).toEqual(['fields.plan', 'fields.renewal', 'segments']);
    expect(referencedSegments(checked.value)).toEqual([known]);

    const refused = validateFilter(
      {
        or: [
          { field: 'fields.plan', op: 'eq', value: 'gold' },
          { field: 'fields.city', op: 'eq', value: 'Paris' },
          { segment: { id: newId(), member: true } },
        ],
      },
      context,
    );
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.issues.map((i) => i.path.join('.'))).toEqual([
      'filter.or.0.value',
      'filter.or.1.field',
      'filter.or.2.segment.id',
    ]);
  });
});
