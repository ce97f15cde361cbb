const SAFE = Symbol('gantry.mailer.SafeHtml');

/** HTML whose interpolated values were escaped: only {@link html} makes one. */
export interface SafeHtml {
  readonly [SAFE]: true;
  /** The markup. */
  toString(): string;
}

class SafeHtmlValue implements SafeHtml {
  readonly [SAFE] = true as const;
  constructor(private readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** True when `value` was made by {@link html}. */
export function isSafeHtml(value: unknown): value is SafeHtml {
  return value instanceof SafeHtmlValue;
}

/**
 * Tagged template for mail HTML: every interpolated value is escaped, except values made by
 * `html` themselves (so pieces compose). Arrays are joined; null, undefined and false render nothing.
 *
 * ```ts
 * html`<p>Hello ${data.name}</p><p><a href="${data.link}">Verify</a></p>`
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtmlValue(out);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtmlValue) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}
