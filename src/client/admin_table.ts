/**
 * Plain-text tables for `mq-node admin`: a header row, a rule, then the rows, columns
 * padded to their widest cell (numbers right-aligned so digits line up).
 */
export type Cell = string | number;

export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => String(row[column] ?? '').length)));
  const line = (cells: readonly Cell[]): string =>
    cells.map((cell, column) => {
      const text = String(cell);
      const width = widths[column] ?? text.length;
      return typeof cell === 'number' ? text.padStart(width) : text.padEnd(width);
    }).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines for one record (message get). */
export function formatFields(fields: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${key.padEnd(width)}  ${String(value)}`).join('\n') + '\n';
}
