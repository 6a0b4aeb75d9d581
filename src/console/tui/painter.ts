// Turns successive frames (arrays of screen lines) into terminal output, sending only the rows that
// changed: a full 80x24 frame is ~2 KB, which at 115200 baud on a serial console costs ~170 ms.
// Sans-I/O: paint() returns the bytes to write; the adapter writes them.

const ESC = "\x1b[";

export const ENTER_SCREEN = `\x1b[?1049h${ESC}?25l${ESC}H${ESC}2J`;
export const LEAVE_SCREEN = `${ESC}?25h\x1b[?1049l`;

export class Painter {
  private previous: string[] = [];
  private cols = 0;
  private rows = 0;

  /** Output that makes the terminal show `lines`; `full` repaints everything (resize, Ctrl-L). */
  paint(lines: readonly string[], cols: number, rows: number, full = false): string {
    const repaintAll = full || cols !== this.cols || rows !== this.rows;
    let out = repaintAll ? `${ESC}H${ESC}2J` : "";
    for (let row = 0; row < rows; row++) {
      // The bottom-right cell is never written: some terminals scroll the whole screen when it is.
      const width = row === rows - 1 ? cols - 1 : cols;
      const line = (lines[row] ?? "").slice(0, Math.max(0, width)).trimEnd();
      if (!repaintAll && this.previous[row] === line) continue;
      out += `${ESC}${row + 1};1H${line}`;
      if (line.length < cols) out += `${ESC}K`;
      this.previous[row] = line;
    }
    this.previous.length = rows;
    this.cols = cols;
    this.rows = rows;
    return out;
  }

  /** Forget what is on the terminal, so the next paint sends everything. */
  invalidate(): void {
    this.previous = [];
    this.cols = 0;
    this.rows = 0;
  }
}
