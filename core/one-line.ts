/** Text shown in one line of a log or a view (a task's title is its whole first prompt). */

/** `text` on one line, at most `max` characters (an ellipsis where it was cut). */
export function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
