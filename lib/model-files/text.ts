/** Small text helpers for the messages about model files. */

/** Printable ASCII plus tab and line breaks: what a tensor or model-type name may hold. */
export function isPrintableAscii(b: Buffer): boolean {
  for (const c of b) {
    if (!((c >= 0x20 && c < 0x7f) || c === 0x09 || c === 0x0a || c === 0x0d)) return false;
  }
  return true;
}

/** A name or snippet from a file, JSON-quoted and cut to `max` characters, for a message. */
export function quote(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}
