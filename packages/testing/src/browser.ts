// A browser without a browser: fetch with manual redirects, one cookie jar per origin, and public
// origins mapped to the loopback address that serves them (as DNS and a TLS proxy would).

/** One answer, with the cookies it set already in the jar. */
export interface Page {
  readonly url: URL;
  readonly status: number;
  readonly headers: Headers;
  /** The Location, resolved against the request URL. */
  readonly location: URL | undefined;
  readonly setCookies: readonly string[];
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever the page answered, as a test would with fetch
  json(): any;
}

/** A form as the page declares it. */
export interface Form {
  readonly action: URL;
  readonly fields: Record<string, string>;
}

/** A browser without a browser: fetch with manual redirects and one cookie jar per origin; `routes` map public origins to the loopback address serving them. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  /** `routes` maps a public origin (`https://app.gantry.test`) to the one really serving it. */
  constructor(private readonly routes: Readonly<Record<string, string>> = {}) {}

  async get(url: string | URL, headers: Record<string, string> = {}): Promise<Page> {
    return this.send(new URL(url), { method: 'GET', headers });
  }

  async post(url: string | URL, form: Record<string, string>): Promise<Page> {
    return this.send(new URL(url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** The cookie value this browser holds for an origin. */
  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    this.jar(origin).set(name, value);
  }

  deleteCookie(origin: string, name: string): void {
    this.jars.get(origin)?.delete(name);
  }

  private jar(origin: string): Map<string, string> {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  private async send(
    url: URL,
    init: { method: string; headers: Record<string, string>; body?: string },
  ): Promise<Page> {
    const jar = this.jar(url.origin);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const target = new URL(url.pathname + url.search, this.routes[url.origin] ?? url.origin);
    const res = await fetch(target, {
      method: init.method,
      headers: { ...init.headers, ...(cookie ? { cookie } : {}) },
      body: init.body,
      redirect: 'manual',
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()),
      );
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const text = await res.text();
    const location = res.headers.get('location');
    return {
      url,
      status: res.status,
      headers: res.headers,
      location: location ? new URL(location, url) : undefined,
      setCookies,
      text,
      json: () => JSON.parse(text),
    };
  }
}

/** The first form of an HTML page: its action and its named inputs with their values. */
export function parseForm(page: Page): Form {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.text);
  if (!form) throw new Error(`no form on ${page.url.href} (status ${page.status})`);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/.exec(input[0])?.[1];
    const value = /\bvalue="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[name] = unescapeHtml(value);
  }
  return { action: new URL(unescapeHtml(form[1]!), page.url), fields };
}

/** The first link whose href matches. */
export function findLink(page: Page, href: RegExp): URL {
  for (const a of page.text.matchAll(/<a\b[^>]*href="([^"]*)"/gi)) {
    const url = unescapeHtml(a[1]!);
    if (href.test(url)) return new URL(url, page.url);
  }
  throw new Error(`no link matching ${href} on ${page.url.href}`);
}

function unescapeHtml(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

/**
 * Walks an OpenID provider's pages from `url` the way a user would: follows redirects, signs in as
 * `login` on the login form (oidc-provider's development login and consent forms: any password),
 * accepts the consent form, until the provider redirects to `appOrigin`. Returns that redirect (the
 * app's callback URL with `code` and `state`, or `error`).
 */
export async function throughProvider(browser: Browser, url: URL, login: string, appOrigin: string): Promise<URL> {
  let page = await browser.get(url);
  for (let step = 0; step < 12; step++) {
    if (page.status === 302 || page.status === 303) {
      const next = page.location!;
      if (next.origin === appOrigin) return next;
      page = await browser.get(next);
    } else if (page.status === 200 && page.text.includes('<form')) {
      const form = parseForm(page);
      const fields =
        form.fields.prompt === 'login'
          ? { ...form.fields, login, password: 'whatever-the-dev-form-ignores' }
          : form.fields;
      page = await browser.post(form.action, fields);
    } else {
      throw new Error(`the provider answered ${page.status} at ${page.url.href}: ${page.text.slice(0, 400)}`);
    }
  }
  throw new Error('the provider never redirected back to the app');
}
