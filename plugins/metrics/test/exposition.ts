// A strict parser of the Prometheus text exposition format 0.0.4, used to validate what /metrics
// serves (no parser package is installed in this repo). It rejects what Prometheus would reject:
// malformed lines, bad names or escapes, samples outside their family, TYPE after samples,
// duplicate series, and histograms whose buckets are not cumulative or disagree with _count.

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family (HELP/TYPE and its samples). */
export interface Family {
  readonly name: string;
  help?: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses and validates an exposition; throws an Error naming the line on the first problem. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`${where}: invalid metric name`);
      const family = familyFor(families, name!);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        family.help = unescapeHelp(rest, where);
      } else {
        if (!TYPES.has(rest.trim())) throw new Error(`${where}: unknown type "${rest}"`);
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples of ${name}`);
        if ((family as { typed?: boolean }).typed) throw new Error(`${where}: second TYPE for ${name}`);
        (family as { typed?: boolean }).typed = true;
        family.type = rest.trim() as Family['type'];
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = owningFamily(families, sample.name);
    if (!family) throw new Error(`${where}: sample ${sample.name} belongs to no declared family`);
    const key = `${sample.name}{${Object.entries(sample.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
    if (seenSeries.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seenSeries.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyFor(families: Map<string, Family>, name: string): Family {
  let f = families.get(name);
  if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }));
  return f;
}

function owningFamily(families: Map<string, Family>, sampleName: string): Family | undefined {
  const exact = families.get(sampleName);
  if (exact && exact.type !== 'histogram') return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f?.type === 'histogram' || (f?.type === 'summary' && suffix !== '_bucket')) return f;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`${where}: does not start with a metric name`);
  const name = nameMatch[0];
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    while (line[pos] !== '}') {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
      if (!ln || !LABEL_NAME.test(ln[0])) throw new Error(`${where}: bad label name at column ${pos + 1}`);
      pos += ln[0].length;
      if (line.slice(pos, pos + 2) !== '="') throw new Error(`${where}: expected =" after label ${ln[0]}`);
      pos += 2;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        pos++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`${where}: bad escape \\${e} in label value`);
        } else value += c;
      }
      if (ln[0] in labels) throw new Error(`${where}: label ${ln[0]} repeated`);
      labels[ln[0]] = value;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`${where}: expected , or } at column ${pos + 1}`);
    }
    pos++;
  }
  const rest = line.slice(pos);
  const m = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest);
  if (!m) throw new Error(`${where}: expected " <value> [timestamp]" after the name and labels`);
  return { name, labels, value: parseValue(m[1]!, where) };
}

function parseValue(s: string, where: string): number {
  const lower = s.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`${where}: "${s}" is not a number`);
  return Number(s);
}

function unescapeHelp(s: string, where: string): string {
  return s.replace(/\\(.?)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    throw new Error(`${where}: bad escape \\${e} in HELP`);
  });
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: { le: number; value: number }[]; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [] }));
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      g.buckets.push({ le: parseValue(le, family.name), value: s.value });
    } else if (s.name === `${family.name}_count`) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [key, g] of groups) {
    const where = `${family.name}${key}`;
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]!.le > g.buckets[i - 1]!.le)) throw new Error(`${where}: buckets not in increasing le order`);
      if (g.buckets[i]!.value < g.buckets[i - 1]!.value) throw new Error(`${where}: bucket counts are not cumulative`);
    }
    const inf = g.buckets.at(-1);
    if (!inf || inf.le !== Infinity) throw new Error(`${where}: no le="+Inf" bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: _count or _sum missing`);
    if (inf.value !== g.count) throw new Error(`${where}: +Inf bucket (${inf.value}) differs from _count (${g.count})`);
  }
}

/** The samples of one family whose labels include all of `labels`. */
export function samplesOf(
  families: Map<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}
