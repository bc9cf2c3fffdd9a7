/**
 * Job data written into messages without quoting it: a failure reason goes back to whoever can
 * read the job, so it may name what the producer sent only when that is short and plain. Pure.
 */

/** The longest key name quoted in a message. */
const MAX_QUOTED_KEY = 40;
/** The longest URL quoted in a message. */
const MAX_QUOTED_URL = 200;

/** An object key for a message: quoted when it is a short name, else only its length. */
export function describeKey(key: string): string {
  if (key.length <= MAX_QUOTED_KEY && /^[A-Za-z_$][\w$-]*$/.test(key)) return `the key "${key}"`;
  return `a key of ${key.length} characters that no option has`;
}

/** A URL the producer sent, for a message: without credentials, whole when it is short, else its origin and length. */
export function describeUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  const href = shown.href;
  if (href.length <= MAX_QUOTED_URL) return href;
  return `${shown.origin.slice(0, MAX_QUOTED_URL)}/... (${href.length} characters)`;
}
