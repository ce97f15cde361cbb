// docker-compose.yml without Docker: the compose-spec JSON schema (vendored, see vendor/README.md) and
// the references a schema cannot see: mounted paths, pinned images, variables, health checks, ports.
import { existsSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { type ComposeFile, type ComposeService, envExampleNames, readYaml, repoPath, variablesIn } from './support.js';

const compose = readYaml('docker-compose.yml') as ComposeFile;
const kraft = readYaml('docker-compose.kraft.yml') as ComposeFile;
const services = Object.entries(compose.services);

function validator() {
  const schema = JSON.parse(readFileSync(repoPath('test/stack/vendor/compose-spec.schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  delete schema.$schema; // draft-07, Ajv's default dialect; its https URL is not a registered meta-schema id
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

function dependsOn(service: ComposeService): Record<string, { condition?: string }> {
  const d = service.depends_on;
  if (d === undefined) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, {}]));
  return d;
}

describe('docker-compose.yml', () => {
  it('is valid against the compose-spec schema, and so is the KRaft override', () => {
    const validate = validator();
    for (const [name, doc] of [
      ['docker-compose.yml', compose],
      ['docker-compose.kraft.yml', kraft],
    ] as const) {
      const ok = validate(doc);
      expect(ok, `${name}: ${JSON.stringify(validate.errors, null, 2)}`).to.equal(true);
    }
  });

  it('the schema refuses a broken file (the check can fail)', () => {
    const validate = validator();
    expect(validate({ services: { app: { image: 'x', ports: [{ published: 'eighty', bogus: true }] } } })).to.equal(
      false,
    );
    expect(validate({ services: { app: { image: 'x', healthcheck: { interval: 5 } } } })).to.equal(false);
  });

  it('holds every service the stack needs, and the app as two or more replicas', () => {
    const names = Object.keys(compose.services);
    for (const required of [
      'postgres',
      'postgres-backup',
      'redis',
      'zookeeper',
      'kafka',
      'prometheus',
      'grafana',
      'mailhog',
      'nginx',
      'adminer',
      'swagger-ui',
      'consul',
      'elasticsearch',
      'logstash',
      'kibana',
    ])
      expect(names, required).to.include(required);
    const apps = names.filter((n) => /^app-\d+$/.test(n));
    expect(apps.length).to.be.at.least(2);
    for (const app of apps) expect(compose.services[app]!.build, app).to.not.equal(undefined);
  });

  it('pins every image to an exact version (no latest, no bare major)', () => {
    for (const [name, s] of [...services, ...Object.entries(kraft.services)]) {
      if (s.image === undefined) {
        expect(s.build ?? s.profiles, `${name} has neither image nor build`).to.not.equal(undefined);
        continue;
      }
      const tag = /:([^:/@]+)$/.exec(s.image)?.[1];
      expect(tag, `${name}: ${s.image} has no tag`).to.be.a('string');
      expect(tag, `${name}: ${s.image}`).to.not.match(/latest|^\d+$|^[a-z]+$/);
      // major.minor.patch, or major.minor for images versioned that way (postgres), plus an OS variant
      expect(tag, `${name}: ${s.image}`).to.match(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/);
      if (!/^postgres:/.test(s.image)) expect(tag, `${name}: ${s.image}`).to.match(/^v?\d+\.\d+\.\d+/);
    }
  });

  it('gives every service a health check, and every depends_on waits for service_healthy', () => {
    for (const [name, s] of services) {
      expect(s.healthcheck?.test, `${name} has no healthcheck`).to.not.equal(undefined);
      expect(s.healthcheck?.disable, name).to.not.equal(true);
      for (const [target, dep] of Object.entries(dependsOn(s))) {
        expect(compose.services[target], `${name} depends on unknown ${target}`).to.not.equal(undefined);
        expect(compose.services[target]!.healthcheck?.test, `${target} (needed by ${name})`).to.not.equal(undefined);
        expect(dep.condition, `${name} -> ${target}`).to.equal('service_healthy');
      }
    }
  });

  it('mounts only paths that exist in the repository (bind mounts) or are declared (named volumes)', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('./') || source.startsWith('/')) {
          expect(existsSync(repoPath(source)), `${name} mounts ${source}, which does not exist`).to.equal(true);
        } else {
          expect(declared, `${name} mounts undeclared volume ${source}`).to.include(source);
        }
      }
    }
  });

  it('names in .env.example exactly the variables the compose files use', () => {
    const used = new Set([
      ...variablesIn(readFileSync(repoPath('docker-compose.yml'), 'utf8')),
      ...variablesIn(readFileSync(repoPath('docker-compose.kraft.yml'), 'utf8')),
    ]);
    const documented = envExampleNames();
    expect(
      [...used].filter((v) => !documented.has(v)),
      'used but not in .env.example',
    ).to.deep.equal([]);
    expect(
      [...documented].filter((v) => !used.has(v)),
      'in .env.example but unused',
    ).to.deep.equal([]);
  });

  it('writes no secret: every password, key or secret variable comes from ${VAR}', () => {
    for (const [name, s] of services) {
      const env = Array.isArray(s.environment)
        ? Object.fromEntries(s.environment.map((e) => e.split('=') as [string, string]))
        : (s.environment ?? {});
      for (const [key, value] of Object.entries(env)) {
        if (/PASSWORD|SECRET|KEYS?$|TOKEN|ENCRYPTION/i.test(key))
          expect(String(value), `${name}.${key}`).to.match(/^\$\{[A-Z_]+(:[?-][^}]*)?\}$/);
      }
    }
    expect(existsSync(repoPath('.env'))).to.equal(false);
  });

  it('publishes host ports once each, on 127.0.0.1 only', () => {
    const seen = new Map<string, string>();
    for (const [name, s] of services) {
      for (const p of s.ports ?? []) {
        const text = String(p);
        const m = /^(127\.0\.0\.1):(\d+):(\d+)$/.exec(text);
        expect(m, `${name} publishes ${text}: bind it to 127.0.0.1:<host>:<container>`).to.not.equal(null);
        const host = m![2]!;
        expect(seen.has(host), `host port ${host} of ${name} already used by ${seen.get(host)}`).to.equal(false);
        seen.set(host, name);
      }
    }
    expect(seen.size).to.be.at.least(5);
  });

  it('separates the edge from the back end: only edge services publish ports, data stays on backend', () => {
    expect(Object.keys(compose.networks ?? {})).to.have.members(['edge', 'backend']);
    const nets = (s: ComposeService) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
    for (const [name, s] of services) {
      if ((s.ports ?? []).length > 0) expect(nets(s), name).to.include('edge');
    }
    for (const data of ['postgres', 'redis', 'kafka', 'zookeeper', 'elasticsearch', 'app-1', 'app-2'])
      expect(nets(compose.services[data]!), data).to.deep.equal(['backend']);
  });

  it('limits the CPU and memory of every service', () => {
    for (const [name, s] of services) {
      expect(s.deploy?.resources?.limits?.memory, name).to.match(/^\d+[MG]$/);
      expect(s.deploy?.resources?.limits?.cpus, name).to.match(/^\d+(\.\d+)?$/);
    }
  });

  it('matches the sandbox compose profile: host names, ports and the variables its plugins require', () => {
    const config = JSON.parse(readFileSync(repoPath('sandbox/gantry.config.json'), 'utf8')) as {
      profiles: { compose: { plugins: Record<string, Record<string, unknown>> } };
    };
    const p = config.profiles.compose.plugins;
    const db = p.database!;
    expect(compose.services[String(db.host)], 'database host').to.not.equal(undefined);
    const pg = compose.services.postgres!.environment as Record<string, string>;
    expect(pg.POSTGRES_DB).to.equal(db.dbName);
    expect(pg.POSTGRES_USER).to.equal(db.user);
    const redisHost = new URL(String(p.redis!.url)).hostname;
    expect(compose.services[redisHost], 'redis host').to.not.equal(undefined);
    // The replicas override the profile's URL only to add the password.
    const redisUrl = (compose.services['app-1']!.environment as Record<string, string>).GANTRY_REDIS__URL!;
    expect(redisUrl.replace(/:\$\{REDIS_PASSWORD[^}]*\}@/, '')).to.equal(String(p.redis!.url));
    const smtp = new URL(String(p.mailer!.smtpUrl));
    expect(compose.services[smtp.hostname], 'smtp host').to.not.equal(undefined);
    expect(p.http!.trustProxy, 'one proxy hop: nginx').to.equal(1);
    // The browser origin of the profile's CORS list is nginx's published HTTPS port.
    const origin = new URL((p.http!.cors as { origins: string[] }).origins[0]!);
    expect(compose.services.nginx!.ports!.map(String)).to.include(`127.0.0.1:${origin.port}:443`);
    const app = compose.services['app-1']!.environment as Record<string, string>;
    expect(app.GANTRY_PROFILE).to.equal('compose');
    for (const required of [
      'GANTRY_DATABASE__PASSWORD',
      'GANTRY_AUTH_JWT__KEYS',
      'GANTRY_SESSIONS_REDIS__CSRF_SECRET',
      'GANTRY_MFA__ENCRYPTION_KEY',
      'GANTRY_OAUTH__PROVIDERS',
    ])
      expect(app[required], required).to.match(/^\$\{/);
    expect(compose.services['app-2']!.environment).to.deep.equal(app);
  });
});
