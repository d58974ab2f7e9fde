// What a terminal shows after some output: enough of a VT100 to replay `airlock run`'s live table
// (carriage return, newline, cursor up, erase line, erase to the end of the screen; colours and
// other sequences are dropped), so that tests read the screen a user sees, not the byte stream.
export function screen(output: string): string[] {
  const rows: string[] = [""];
  let row = 0;
  let col = 0;
  const put = (ch: string) => {
    const line = rows[row] ?? "";
    rows[row] = line.padEnd(col, " ").slice(0, col) + ch + line.slice(col + 1);
    col++;
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!;
    if (ch === "\x1b" && output[i + 1] === "[") {
      const m = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(output.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      const n = Number(m[1]) || 1;
      if (m[2] === "A") row = Math.max(0, row - n);
      else if (m[2] === "B") row += n;
      else if (m[2] === "K") rows[row] = m[1] === "2" ? "" : (rows[row] ?? "").slice(0, col);
      else if (m[2] === "J") {
        rows[row] = (rows[row] ?? "").slice(0, col);
        rows.length = row + 1;
      } else if (m[2] === "G") col = n - 1;
      continue;
    }
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      row++;
      col = 0;
    } else put(ch);
    while (rows.length <= row) rows.push("");
  }
  return rows.map((r) => r.trimEnd());
}
