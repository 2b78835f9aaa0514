/** An error as one line: the message with its line breaks folded (logs, stderr, health text). */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
