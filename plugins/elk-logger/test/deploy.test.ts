// The files in deploy/ that go with this plugin: the Logstash pipeline and settings, the index template
// Logstash installs, and the Kibana saved objects. No Logstash or Kibana can be had here, so these
// checks are structural: each file parses, and its names match the plugin's defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@gantry/core';
import { expect } from 'chai';
import { elkLoggerConfigSchema } from '../src/index.js';
import { ElasticsearchShipper } from '../src/shipping.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const read = (rel: string): string => readFileSync(path.join(repo, rel), 'utf8');
const defaults = elkLoggerConfigSchema.parse({});

/**
 * Logstash's config language, enough to check a pipeline: sections, plugins with `{ }` blocks,
 * `key => value` settings, `if`/`else` conditionals, comments and strings. Returns the plugins per section.
 */
function parsePipeline(text: string): Record<string, { name: string; settings: Record<string, string> }[]> {
  const tokens: string[] = [];
  const re =
    /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\/(?:[^/\\\n]|\\.)+\/|=>|=~|!=|==|[{}[\],()]|[A-Za-z0-9_.@+%:-]+/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    m = re.exec(text);
    if (!m) throw new Error(`unexpected character ${JSON.stringify(text[pos])} at ${pos}`);
    pos = re.lastIndex;
    if (!/^\s*$/.test(m[0]) && !m[0].startsWith('#')) tokens.push(m[0]);
  }
  let i = 0;
  const expect_ = (t: string): void => {
    if (tokens[i] !== t) throw new Error(`expected "${t}", got "${tokens[i]}" (token ${i})`);
    i++;
  };
  const value = (): string => {
    if (tokens[i] === '[') {
      const parts: string[] = [];
      i++;
      while (tokens[i] !== ']') {
        if (tokens[i] === ',') i++;
        else parts.push(tokens[i++]!);
        if (i >= tokens.length) throw new Error('unclosed [');
      }
      i++;
      return `[${parts.join(',')}]`;
    }
    return tokens[i++]!;
  };
  const plugins: { name: string; settings: Record<string, string> }[] = [];
  const block = (): void => {
    expect_('{');
    while (tokens[i] !== '}') {
      if (i >= tokens.length) throw new Error('unclosed {');
      if (tokens[i] === 'if' || (tokens[i] === 'else' && tokens[i + 1] === 'if')) {
        i += tokens[i] === 'else' ? 2 : 1;
        while (tokens[i] !== '{') i++; // the condition
        block();
      } else if (tokens[i] === 'else') {
        i++;
        block();
      } else {
        const name = tokens[i++]!;
        const settings: Record<string, string> = {};
        expect_('{');
        while (tokens[i] !== '}') {
          const key = tokens[i++]!;
          expect_('=>');
          settings[key] = value().replace(/^"|"$/g, '');
          if (i >= tokens.length) throw new Error(`unclosed plugin ${name}`);
        }
        i++;
        plugins.push({ name, settings });
      }
    }
    i++;
  };
  const sections: Record<string, { name: string; settings: Record<string, string> }[]> = {};
  while (i < tokens.length) {
    const section = tokens[i++]!;
    if (!['input', 'filter', 'output'].includes(section)) throw new Error(`unknown section "${section}"`);
    plugins.length = 0;
    block();
    sections[section] = [...plugins];
  }
  return sections;
}

describe('deploy/: Logstash pipeline and Kibana saved objects', () => {
  it('the pipeline reads json_lines over TCP and writes daily indices to http://elasticsearch:9200, audit apart', () => {
    const text = read('deploy/logstash/pipeline/gantry.conf');
    const sections = parsePipeline(text);
    const tcp = sections.input!.find((p) => p.name === 'tcp');
    expect(tcp?.settings).to.include({ codec: 'json_lines', port: String(defaults.logstash.port) });
    const outputs = sections.output!.filter((p) => p.name === 'elasticsearch');
    expect(outputs.map((o) => o.settings.hosts)).to.deep.equal([
      '["http://elasticsearch:9200"]',
      '["http://elasticsearch:9200"]',
    ]);
    expect(outputs.map((o) => o.settings.index).sort()).to.deep.equal([
      `${defaults.elasticsearch.auditIndexPrefix}-%{+YYYY.MM.dd}`,
      `${defaults.elasticsearch.indexPrefix}-%{+YYYY.MM.dd}`,
    ]);
    expect(text).to.include('if [event.dataset] =~ /\\.audit$/');
  });

  it('the parser rejects a broken pipeline (so the check above can fail)', () => {
    expect(() => parsePipeline('input { tcp { port => 5000 }')).to.throw(/unclosed/);
    expect(() => parsePipeline('inputs { }')).to.throw(/unknown section/);
  });

  it("the template Logstash installs is the plugin's own", () => {
    const file = JSON.parse(read('deploy/logstash/templates/gantry.json')) as unknown;
    const shipper = new ElasticsearchShipper(defaults.elasticsearch, silentLogger());
    expect(file).to.deep.equal(shipper.templateBody());
  });

  it('logstash.yml is flat YAML settings with the pipeline path', () => {
    const settings: Record<string, string> = {};
    for (const line of read('deploy/logstash/logstash.yml').split('\n')) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const m = /^([a-z_.]+): (.+)$/.exec(line);
      expect(m, `not a "key: value" line: ${line}`).to.not.equal(null);
      settings[m![1]!] = m![2]!;
    }
    expect(settings).to.include({ 'path.config': '/usr/share/logstash/pipeline', 'pipeline.ecs_compatibility': 'v8' });
  });

  it('saved-objects.ndjson: one saved object per line, known types, references resolved, the request-id search', () => {
    const lines = read('deploy/kibana/saved-objects.ndjson')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const objects = lines.map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          id: string;
          attributes: Record<string, unknown>;
          references: { name: string; type: string; id: string }[];
        },
    );
    const known = new Set(['index-pattern', 'search', 'visualization', 'dashboard']);
    for (const o of objects) {
      expect(known.has(o.type), o.type).to.equal(true);
      expect(o.id).to.be.a('string').and.not.equal('');
      expect(o.attributes.title).to.be.a('string');
      // Nested JSON strings must parse too.
      for (const key of ['panelsJSON', 'optionsJSON', 'visState', 'uiStateJSON'])
        if (typeof o.attributes[key] === 'string') JSON.parse(o.attributes[key] as string);
      const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON?: string } | undefined;
      if (meta?.searchSourceJSON) JSON.parse(meta.searchSourceJSON);
    }
    const byKey = new Set(objects.map((o) => `${o.type}:${o.id}`));
    expect(byKey.size).to.equal(objects.length);
    for (const o of objects)
      for (const r of o.references)
        expect(byKey.has(`${r.type}:${r.id}`), `${o.id} references missing ${r.type}:${r.id}`).to.equal(true);

    const views = objects.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title);
    expect(views).to.include.members([
      `${defaults.elasticsearch.indexPrefix}-*`,
      `${defaults.elasticsearch.auditIndexPrefix}-*`,
    ]);
    const byRequest = objects.find((o) => o.type === 'search' && o.id === 'gantry-request')!;
    const source = JSON.parse(
      (byRequest.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON,
    );
    expect(source.query.query).to.match(/^http\.request\.id : "/);
    const dashboard = objects.find((o) => o.type === 'dashboard')!;
    const panels = JSON.parse(dashboard.attributes.panelsJSON as string) as { panelRefName: string }[];
    expect(panels.map((p) => p.panelRefName).sort()).to.deep.equal(dashboard.references.map((r) => r.name).sort());
  });
});
