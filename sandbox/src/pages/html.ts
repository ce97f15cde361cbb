/** One input of an account page's form. */
export interface PageField {
  readonly name: string;
  readonly label: string;
  readonly type: 'password' | 'email';
  readonly autocomplete: string;
}

/** What an account page shows and where its form posts. */
export interface PageSpec {
  readonly title: string;
  readonly intro: string;
  /** The API route the form posts its JSON to. */
  readonly action: string;
  /** How the script builds the body: `verify` {token}, `reset` {token,password}, `forgot` {email}. */
  readonly kind: 'verify' | 'reset' | 'forgot';
  readonly fields: readonly PageField[];
  readonly submit: string;
  /** Shown once the API accepted the form. */
  readonly done: string;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The page's HTML, built once at boot: every value is the sandbox's own text, escaped all the same. */
export function page(spec: PageSpec): string {
  const fields = spec.fields
    .map(
      (f) =>
        `<label>${esc(f.label)}<input name="${esc(f.name)}" type="${f.type}" autocomplete="${esc(f.autocomplete)}" required></label>`,
    )
    .join('\n      ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>${esc(spec.title)} · Gantry sandbox</title>
  <link rel="stylesheet" href="/assets/account.css">
  <script src="/assets/account.js" defer></script>
</head>
<body>
  <main>
    <h1>${esc(spec.title)}</h1>
    <p>${esc(spec.intro)}</p>
    <form data-action="${esc(spec.action)}" data-kind="${spec.kind}" data-done="${esc(spec.done)}" novalidate>
      ${fields}
      <button type="submit">${esc(spec.submit)}</button>
    </form>
    <p id="outcome" role="status" aria-live="polite"></p>
    <noscript><p>This page needs JavaScript to send the form.</p></noscript>
  </main>
</body>
</html>
`;
}

/**
 * The script of every account page: reads the mailed token from the address (then removes it from
 * the address bar and history), posts the form as JSON to the API and shows the outcome, using the
 * problem's detail and field errors when the API refuses.
 */
export const ACCOUNT_JS = `'use strict';
(function () {
  var form = document.querySelector('form[data-action]');
  var outcome = document.getElementById('outcome');
  if (!form || !outcome) return;
  var token = new URLSearchParams(location.search).get('token');
  if (token) history.replaceState(null, '', location.pathname);
  var kind = form.getAttribute('data-kind');
  if (kind !== 'forgot' && !token) {
    outcome.textContent = 'This link has no token: open the whole link from the mail.';
    form.querySelector('button').disabled = true;
  }
  function show(text, ok) {
    outcome.textContent = text;
    outcome.className = ok ? 'ok' : 'error';
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var data = new FormData(form);
    var body;
    if (kind === 'verify') body = { token: token };
    else if (kind === 'reset') {
      if (data.get('password') !== data.get('confirm')) return show('The two passwords differ.', false);
      body = { token: token, password: data.get('password') };
    } else body = { email: data.get('email') };
    var button = form.querySelector('button');
    button.disabled = true;
    show('Sending…', true);
    outcome.className = 'pending';
    fetch(form.getAttribute('data-action'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(body),
      credentials: 'omit'
    }).then(function (res) {
      if (res.ok) {
        show(form.getAttribute('data-done'), true);
        form.hidden = true;
        return;
      }
      return res.json().then(function (problem) {
        var fields = (problem.errors || []).map(function (e) { return e.field + ': ' + e.message; });
        show((problem.detail || 'The request was refused.') + (fields.length ? ' (' + fields.join('; ') + ')' : ''), false);
        button.disabled = false;
      });
    }).catch(function () {
      show('The server could not be reached; try again.', false);
      button.disabled = false;
    });
  });
})();
`;

/** The style of the account pages (a separate file: the CSP allows no inline style). */
export const ACCOUNT_CSS = `body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
main { max-width: 28rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
h1 { font-size: 1.4rem; margin-top: 0; }
label { display: block; margin: 1rem 0; }
input { display: block; width: 100%; box-sizing: border-box; margin-top: .3rem; padding: .5rem; font: inherit; }
button { padding: .6rem 1rem; font: inherit; cursor: pointer; }
.ok { color: #0a6b2d; }
.error { color: #a3111c; }
`;
