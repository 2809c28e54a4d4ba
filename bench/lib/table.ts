/** Plain-text tables for bench output: right-aligned numbers, left-aligned text. */

export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number | null;
  /** Digits after the point for numbers (default 0). */
  digits?: number;
}

function cell(value: string | number | null, digits: number): string {
  if (value === null) return '-';
  if (typeof value === 'string') return value;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.digits ?? 0)));
  const numeric = columns.map((column) => rows.every((row) => typeof column.value(row) !== 'string'));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => line[index]!.length)));
  const pad = (text: string, index: number) => (numeric[index] ? text.padStart(widths[index]!) : text.padEnd(widths[index]!));
  const lines = [
    columns.map((column, index) => pad(column.header, index)).join('  '),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map((line) => line.map(pad).join('  ')),
  ];
  return lines.join('\n');
}
