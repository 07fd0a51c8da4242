// Every CSV text CRM hands out (contact exports, import error reports) is written here, with
// each text cell made safe to open in a spreadsheet (CSV injection, OWASP): a cell that starts
// with =, +, -, @, a tab or a carriage return gets a leading apostrophe, so it opens as text and
// never as a formula. A cell that is just a number (points, -3; an E.164 phone, +14155550100)
// stays as it is: it cannot call anything, and it reads as the number it is.
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?\d+(\.\d+)?$/;

export const spreadsheetSafe = (text: string): string =>
  FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;

/** Rows as CSV lines, every text cell spreadsheet-safe. */
export const csvLines = (rows: unknown[][]): string => stringify(rows, { cast: { string: spreadsheetSafe } });
