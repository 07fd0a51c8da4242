import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvLines, spreadsheetSafe } from './csv-text.ts';

describe('CSV text for spreadsheets', () => {
  it('opens every cell that would start a formula as text', () => {
    for (const cell of ['=1+1', '+cmd', '-2+3+cmd', '@SUM(A1)', '\tcmd', '\rcmd', '=HYPERLINK("http://x")'])
      expect(spreadsheetSafe(cell), JSON.stringify(cell)).toBe(`'${cell}`);
  });

  it('leaves plain text and plain numbers as they are', () => {
    for (const cell of ['Ada', 'a=b', '', '-3', '+14155550100', '12.50', 'ada@example.com'])
      expect(spreadsheetSafe(cell), JSON.stringify(cell)).toBe(cell);
  });

  it('writes CSV that reads back to the escaped cells, numbers untouched', () => {
    const text = csvLines([[1, '=1+1', 'say "hi", then @x', -4]]);
    expect(parse(text)).toEqual([['1', "'=1+1", 'say "hi", then @x', '-4']]);
  });
});
