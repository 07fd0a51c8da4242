// MJML to HTML, once when a template is saved. Validation is strict; MJML's errors carry a line
// but no column, so the column is found in the source. MJML's parser silently repairs unbalanced
// tags, so a structure check runs first and reports the first mismatched or unclosed mj- element.
import mjml2html from 'mjml';
import { positionAt } from './source-position.ts';

export interface MjmlIssue {
  line: number;
  column: number;
  message: string;
}

export type MjmlResult = { ok: true; html: string } | { ok: false; issues: [MjmlIssue, ...MjmlIssue[]] };

// An mj- start or end tag; attribute values may contain '>' inside quotes.
const MJ_TAG = /<(\/?)(mjml|mj-[a-z0-9-]+)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*(\/?)>/gi;
const COMMENT = /<!--[\s\S]*?-->/g;

/** Blanks out comments (keeping offsets) so tags inside them are not checked. */
const withoutComments = (source: string): string => source.replace(COMMENT, (c) => c.replace(/[^\n]/g, ' '));

export function checkMjmlStructure(source: string): MjmlIssue | null {
  const text = withoutComments(source);
  const stack: { name: string; offset: number }[] = [];
  for (const match of text.matchAll(MJ_TAG)) {
    const [, closing, rawName, , selfClosing] = match;
    const name = rawName!.toLowerCase();
    if (selfClosing) continue;
    if (!closing) {
      stack.push({ name, offset: match.index });
      continue;
    }
    const open = stack.pop();
    if (!open) return { ...positionAt(source, match.index), message: `</${name}> closes an element that is not open` };
    if (open.name !== name) {
      return {
        ...positionAt(source, match.index),
        message: `</${name}> found where </${open.name}> was expected (opened at line ${positionAt(source, open.offset).line})`,
      };
    }
  }
  const unclosed = stack.pop();
  if (unclosed) return { ...positionAt(source, unclosed.offset), message: `<${unclosed.name}> is never closed` };
  return null;
}

/** The column of the element (or its attribute) an MJML validation message is about. */
function columnFor(source: string, line: number, tagName: string | undefined, message: string): number {
  const text = source.split('\n')[line - 1] ?? '';
  const tagAt = tagName ? text.indexOf(`<${tagName}`) : -1;
  const attribute = /^Attribute ([\w-]+)/.exec(message)?.[1];
  if (attribute) {
    const attrAt = text.search(new RegExp(`\\s${attribute}\\s*=`));
    if (attrAt >= 0 && attrAt >= tagAt) return attrAt + 2;
  }
  return tagAt >= 0 ? tagAt + 1 : text.length - text.trimStart().length + 1;
}

export async function compileMjml(source: string): Promise<MjmlResult> {
  const structural = checkMjmlStructure(source);
  if (structural) return { ok: false, issues: [structural] };
  try {
    const result = await mjml2html(source, {
      validationLevel: 'strict',
      // mj-include would read files on the server: templates are self-contained.
      ignoreIncludes: true,
      useMjmlConfigOptions: false,
    });
    return { ok: true, html: result.html };
  } catch (error) {
    // mjml's ValidationError lists its findings in `errors` (older releases: `details`).
    type Finding = { line?: number; message?: string; tagName?: string };
    const { errors, details } = error as { errors?: Finding[]; details?: Finding[] };
    const findings = Array.isArray(errors) ? errors : details;
    if (Array.isArray(findings) && findings.length > 0) {
      const issues = findings.map((d) => {
        const line = typeof d.line === 'number' ? d.line : 1;
        const message = d.message ?? 'Invalid MJML';
        return { line, column: columnFor(source, line, d.tagName, message), message };
      });
      return { ok: false, issues: issues as [MjmlIssue, ...MjmlIssue[]] };
    }
    // "Malformed MJML" / "Parsing failed": the document as a whole is wrong.
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, issues: [{ line: 1, column: 1, message }] };
  }
}
