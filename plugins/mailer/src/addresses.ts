/** A mailbox: an address and an optional display name. */
export interface MailAddress {
  readonly address: string;
  readonly name?: string;
}

/** One recipient or several: `"ann@example.com"`, `{ name: 'Ann', address: 'ann@example.com' }`, or a list of them. */
export type Recipients = string | MailAddress | readonly (string | MailAddress)[];

/** Most recipients one send() accepts: transactional mail goes to a person, not a list. */
export const MAX_RECIPIENTS = 50;

// addr-spec without quoted local parts or domain literals: no whitespace, no control characters,
// none of the characters that separate or delimit addresses in a header (, ; < > " ( ) [ ] \ :).
// The domain needs a dot: a bare host name is almost always a typo in a user's address.
const ADDRESS =
  /^[^\s\p{Cc}@,;<>"()[\]\\:]{1,64}@(?=.{1,253}$)[^\s\p{Cc}@,;<>"()[\]\\:.]+(?:\.[^\s\p{Cc}@,;<>"()[\]\\:.]+)+$/u;
const MAILBOX = /^\s*(?:(?<name>[^<>\p{Cc}]*?)\s*<(?<inner>[^<>]*)>|(?<bare>[^<>]*?))\s*$/u;
// Every character that could end a header line or hide in one: C0/C1 controls, NEL, LS, PS.
const HEADER_BREAKS = /[\p{Cc}\u2028\u2029]+/gu;

/** True when `value` is a single plain address (`local@domain.tld`), the form recipients must have. */
export function isAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value);
}

/** Parses `"addr"` or `"Name <addr>"` into a mailbox; undefined when it is not exactly one valid mailbox. */
export function parseMailbox(value: string): MailAddress | undefined {
  const m = MAILBOX.exec(value);
  if (!m?.groups) return undefined;
  const address = (m.groups.inner ?? m.groups.bare ?? '').trim();
  if (!isAddress(address)) return undefined;
  const name = m.groups.name?.trim().replace(/^"(.*)"$/, '$1');
  return name ? { name, address } : { address };
}

/**
 * Makes a value safe for a header line: every line break or control character becomes one space,
 * so "x\r\nBcc: evil@x" stays inside the header it was put in.
 */
export function headerSafe(value: string): string {
  return value.replace(HEADER_BREAKS, ' ').trim();
}

/** The outcome of checking recipients: the normalized list, or the first problem. */
export type RecipientCheck =
  | { readonly ok: true; readonly recipients: readonly MailAddress[] }
  | { readonly ok: false; readonly problem: string };

/** Checks and normalizes `to`: 1 to {@link MAX_RECIPIENTS} plain addresses, display names made header-safe. */
export function checkRecipients(to: Recipients | undefined): RecipientCheck {
  const list = Array.isArray(to) ? (to as readonly unknown[]) : to === undefined ? [] : [to];
  if (list.length === 0) return { ok: false, problem: 'no recipient given' };
  if (list.length > MAX_RECIPIENTS)
    return { ok: false, problem: `${list.length} recipients given, at most ${MAX_RECIPIENTS} are accepted` };
  const recipients: MailAddress[] = [];
  for (const [i, entry] of list.entries()) {
    const address =
      typeof entry === 'string'
        ? entry
        : typeof entry === 'object' && entry !== null
          ? (entry as MailAddress).address
          : undefined;
    if (typeof address !== 'string' || !isAddress(address)) {
      return {
        ok: false,
        problem: `recipient #${i + 1} ${JSON.stringify(address)?.slice(0, 100) ?? String(address)} is not a single plain address (local@domain.tld)`,
      };
    }
    const rawName = typeof entry === 'object' && entry !== null ? (entry as MailAddress).name : undefined;
    if (rawName !== undefined && typeof rawName !== 'string')
      return { ok: false, problem: `recipient #${i + 1} has a name that is not a string` };
    const name = rawName === undefined ? '' : headerSafe(rawName);
    recipients.push(name ? { name, address } : { address });
  }
  return { ok: true, recipients };
}
