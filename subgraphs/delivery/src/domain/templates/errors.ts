// The expected failure of saving a template: a syntax error in one of its fields, with the place
// (1-based line and column within that field's source) so an editor can point at it.
import { DomainError } from '@mauntic/kernel';

export type TemplateField =
  | 'mjml'
  | 'html'
  | 'subject'
  | 'preheader'
  | 'text'
  | 'body'
  | 'title'
  | 'data'
  | 'imageUrl'
  | 'url'
  | 'headers';

export interface TemplateSyntaxIssue {
  field: TemplateField;
  /** The locale variant the field belongs to; null for the default content. */
  locale: string | null;
  /** 1-based line within the field's source. */
  line: number;
  /** 1-based column within that line. */
  column: number;
  message: string;
}

export class TemplateSyntaxError extends DomainError {
  readonly type = 'template_syntax' as const;
  readonly code = 'TEMPLATE_SYNTAX_ERROR';
  readonly field: TemplateField;
  readonly locale: string | null;
  readonly line: number;
  readonly column: number;

  /** The first issue is the one the top-level fields describe; MJML validation may report several. */
  constructor(readonly issues: [TemplateSyntaxIssue, ...TemplateSyntaxIssue[]]) {
    const first = issues[0];
    super(first.message);
    this.field = first.field;
    this.locale = first.locale;
    this.line = first.line;
    this.column = first.column;
  }
}

/** A position in a field's source: 1-based line and column of a 0-based character offset. */
export function positionAt(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
