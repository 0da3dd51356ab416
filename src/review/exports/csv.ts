/**
 * CSV text (RFC 4180): comma-separated, CRLF line ends, a field quoted when it holds a comma,
 * a quote, a line break or edge spaces, quotes doubled.
 *
 * Spreadsheet formula injection (OWASP "CSV Injection"): a cell that starts with = + - @, a
 * tab or a carriage return is evaluated by Excel/LibreOffice as a formula. Hardware strings
 * are attacker-controlled (anyone who can flash a DMI string), so the spreadsheet CSV prefixes
 * such *text* cells with a single quote. Numbers are written as numbers and never prefixed.
 * NetBox's importer does not evaluate formulas and must receive the values unchanged, so its
 * files are written with `guardFormulas: false`.
 */
export type CsvValue = string | number | boolean | null | undefined;

export interface CsvOptions {
  guardFormulas: boolean;
}

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvValue, options: CsvOptions): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "true" : "false";
  let text = value;
  if (options.guardFormulas && FORMULA_START.test(text)) text = `'${text}`;
  if (/[",\r\n]/.test(text) || /^\s|\s$/.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

export function renderCsv(header: readonly string[], rows: readonly CsvValue[][], options: CsvOptions): string {
  const lines = [header.map((h) => csvCell(h, options)).join(",")];
  for (const row of rows) lines.push(row.map((cell) => csvCell(cell, options)).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
