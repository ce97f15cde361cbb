// Shared by the stack suites: the repository's deploy files read, parsed and templated for loopback.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type Tags } from 'yaml';
import { repo } from '../support/sandbox-process.js';

export { repo };

/** A path inside the repository. */
export const repoPath = (...parts: string[]): string => path.join(repo, ...parts);

/** Compose's own YAML tags (`!reset`, `!override`), kept as their plain values. */
const composeTags: Tags = [
  { tag: '!reset', resolve: (value: unknown) => value, collection: 'map' },
  { tag: '!reset', resolve: (value: unknown) => value, collection: 'seq' },
  { tag: '!reset', resolve: (value: unknown) => value },
  { tag: '!override', resolve: (value: unknown) => value, collection: 'map' },
  { tag: '!override', resolve: (value: unknown) => value, collection: 'seq' },
];

/** A YAML file of the repository, parsed (anchors and merge keys resolved, compose tags accepted). */
export function readYaml(file: string): unknown {
  return parse(readFileSync(repoPath(file), 'utf8'), { merge: true, customTags: composeTags, maxAliasCount: -1 });
}

export interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: Array<string | { published?: string | number; host_ip?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  networks?: string[] | Record<string, unknown>;
  environment?: Record<string, string> | string[];
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
  profiles?: string[];
  hostname?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, unknown>;
  volumes?: Record<string, unknown>;
}

/** Every `${VAR}` (with or without `:-default`, `:?error`) a text names. */
export function variablesIn(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}/g)) names.add(m[1]!);
  return names;
}

/** The variable names .env.example assigns (`NAME=` lines). */
export function envExampleNames(): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(repoPath('.env.example'), 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

function replaceOnce(text: string, from: string, to: string, file: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1)
    throw new Error(`${file}: expected "${from}" exactly once, found it ${count} times: update the template`);
  return text.replace(from, to);
}

export interface NginxPorts {
  http: number;
  https: number;
  health: number;
  upstreams: readonly number[];
  /** Where /docs/ goes (Swagger UI); a closed port when absent. */
  docs?: number;
}

/**
 * deploy/nginx/{nginx.conf,gantry.conf} for a Debian nginx run under `dir` (prefix, pid, logs, temp
 * folders, certificates there) on 127.0.0.1: the app replicas become the given loopback ports. Every
 * substitution must match exactly once, so a change to the config that the template misses fails here.
 */
export function templateNginx(dir: string, ports: NginxPorts): { main: string; site: string } {
  let main = readFileSync(repoPath('deploy/nginx/nginx.conf'), 'utf8');
  main = replaceOnce(main, 'user nginx;\n', '', 'nginx.conf');
  main = replaceOnce(main, 'worker_processes auto;', 'worker_processes 1;', 'nginx.conf');
  main = replaceOnce(main, 'pid /var/run/nginx.pid;', `pid ${dir}/nginx.pid;`, 'nginx.conf');
  main = replaceOnce(main, 'error_log /dev/stderr warn;', `error_log ${dir}/error.log warn;`, 'nginx.conf');
  main = replaceOnce(main, 'access_log /dev/stdout;', `access_log ${dir}/access.log;`, 'nginx.conf');
  main = replaceOnce(
    main,
    'include /etc/nginx/gantry.conf;',
    `include ${dir}/gantry.conf;\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`)
      .join('\n')}`,
    'nginx.conf',
  );
  let site = readFileSync(repoPath('deploy/nginx/gantry.conf'), 'utf8');
  const [first, second] = ports.upstreams;
  site = replaceOnce(site, 'server app-1:3000 ', `server 127.0.0.1:${first} `, 'gantry.conf');
  site = replaceOnce(site, 'server app-2:3000 ', `server 127.0.0.1:${second} `, 'gantry.conf');
  // Swagger UI is a container of the Compose stack only: an address nothing listens on keeps nginx valid.
  site = replaceOnce(site, 'server swagger-ui:8080;', `server 127.0.0.1:${ports.docs ?? 9};`, 'gantry.conf');
  site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${ports.http};`, 'gantry.conf');
  site = replaceOnce(site, 'listen 443 ssl http2;', `listen 127.0.0.1:${ports.https} ssl http2;`, 'gantry.conf');
  site = replaceOnce(site, 'listen 8081;', `listen 127.0.0.1:${ports.health};`, 'gantry.conf');
  site = replaceOnce(site, 'https://$host:8443$request_uri', `https://$host:${ports.https}$request_uri`, 'gantry.conf');
  site = replaceOnce(site, '/etc/nginx/certs/dev.crt', `${dir}/certs/dev.crt`, 'gantry.conf');
  site = replaceOnce(site, '/etc/nginx/certs/dev.key', `${dir}/certs/dev.key`, 'gantry.conf');
  site = replaceOnce(site, 'access_log /dev/stdout gantry;', `access_log ${dir}/access.log gantry;`, 'gantry.conf');
  return { main, site };
}

/** deploy/prometheus/prometheus.yml with the app targets on loopback ports and its own port as the self-scrape. */
export function templatePrometheus(targets: readonly string[], selfPort: number, scrapeInterval = '1s'): string {
  let text = readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8');
  text = replaceOnce(
    text,
    '          - app-1:3000\n          - app-2:3000\n',
    targets.map((t) => `          - ${t}\n`).join(''),
    'prometheus.yml',
  );
  text = replaceOnce(text, '          - localhost:9090', `          - 127.0.0.1:${selfPort}`, 'prometheus.yml');
  text = replaceOnce(text, 'scrape_interval: 15s', `scrape_interval: ${scrapeInterval}`, 'prometheus.yml');
  text = replaceOnce(text, 'evaluation_interval: 15s', `evaluation_interval: ${scrapeInterval}`, 'prometheus.yml');
  return text;
}

const SBIN = ['/usr/sbin', '/sbin'];
/** PATH with sbin folders (Debian puts nginx in /usr/sbin). */
export const pathWithSbin = [process.env.PATH ?? '', ...SBIN].join(':');

/** nginx on PATH (installed by test/services/nginx.sh when missing), or throws saying how to fix it. */
export function ensureNginx(): string {
  const found = () => spawnSync('nginx', ['-v'], { stdio: 'ignore', env: { ...process.env, PATH: pathWithSbin } });
  if (found().error === undefined) return 'nginx';
  execFileSync('sh', [repoPath('test/services/nginx.sh'), 'ensure'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (found().error !== undefined)
    throw new Error('test/services/nginx.sh ensure succeeded but nginx is not on PATH: put it on PATH');
  return 'nginx';
}

/** Runs a command, returning status and output (never throws on a non-zero exit). */
export function run(cmd: string, args: string[], options: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    env: { ...process.env, PATH: pathWithSbin },
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A development certificate from deploy/nginx/dev-cert.sh, written into `dir`. */
export function devCert(dir: string): void {
  execFileSync('sh', [repoPath('deploy/nginx/dev-cert.sh'), dir], { stdio: 'ignore' });
}
