// `npm run stack:local`: the stack as a user without Docker runs it, on loopback: nginx (HTTPS 8443,
// HTTP 8080 redirecting), two sandbox instances in the compose profile on the running PostgreSQL
// (a database of their own, dropped at exit) and Redis, and Prometheus (9090) with the repo's configs.
// Ports: GANTRY_STACK_HTTPS_PORT, GANTRY_STACK_HTTP_PORT, GANTRY_STACK_PROMETHEUS_PORT, GANTRY_STACK_APP_PORTS
// (comma-separated, one per instance). Ctrl-C stops everything.
import { LoopbackStack } from './loopback.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const apps = (process.env.GANTRY_STACK_APP_PORTS ?? '3101,3102').split(',').map(Number);

const stack = await LoopbackStack.start({
  instances: apps.length,
  prometheus: true,
  ports: {
    https: num('GANTRY_STACK_HTTPS_PORT', 8443),
    http: num('GANTRY_STACK_HTTP_PORT', 8080),
    health: num('GANTRY_STACK_NGINX_HEALTH_PORT', 8081),
    prometheus: num('GANTRY_STACK_PROMETHEUS_PORT', 9090),
    apps,
  },
  env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  inheritLogs: true,
});

console.log(`
Gantry stack on loopback (no Docker):
  API through nginx    ${stack.edge}/api/v1   (development certificate: curl -k, or trust ${stack.dir}/nginx/certs/dev.crt)
  HTTP (redirects)     http://127.0.0.1:${stack.nginxPorts.http}
  instances            ${stack.instances.map((i) => i.base).join('  ')}
  Prometheus           ${stack.prometheusUrl}   (alerts: ${stack.prometheusUrl}/alerts)
  database             ${stack.database} on 127.0.0.1:5432 (dropped at exit)
  administrator        ${stack.admin.email} / ${stack.admin.password}
Ctrl-C stops everything.`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the stack...');
    stack.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
