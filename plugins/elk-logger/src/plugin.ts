import {
  definePlugin,
  HttpTransportToken,
  KernelInfoToken,
  LoggerToken,
  packageVersion,
  type Logger,
} from '@gantry/core';
import { elkLoggerConfigSchema, type ElkLoggerConfig } from './config.js';
import { ElkLoggerErrors } from './errors.js';
import { registerElkMetrics } from './metrics.js';
import { ElkRuntime } from './runtime.js';
import { ElkShippingToken } from './tokens.js';

/** The runtime behind each logger this plugin built (one per kernel: two kernels share nothing). */
const runtimes = new WeakMap<Logger, ElkRuntime>();

/** The `elk-logger` plugin: replaces the kernel's logger with winston + ECS, shipped to Logstash and/or Elasticsearch. */
export const plugin = definePlugin({
  name: 'elk-logger',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    "winston with Elastic's ECS format as the application's logger: console, Logstash (TCP json_lines) and Elasticsearch _bulk, bounded and never blocking a request",
  optionalDependsOn: ['http', 'metrics'],
  provides: [ElkShippingToken],
  config: elkLoggerConfigSchema,
  validate(config: ElkLoggerConfig) {
    const problems = [];
    if (config.elasticsearch.enabled) {
      let url: URL | undefined;
      try {
        url = new URL(config.elasticsearch.url);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
        problems.push(
          ElkLoggerErrors.CONFIG_INVALID(
            `elasticsearch.url ${JSON.stringify(config.elasticsearch.url)} is not an http(s) URL`,
          ),
        );
      else if (url.username || url.password)
        problems.push(ElkLoggerErrors.CONFIG_INVALID('elasticsearch.url carries credentials: they would show in logs'));
      if (config.elasticsearch.apiKey && config.elasticsearch.username !== undefined)
        problems.push(ElkLoggerErrors.CONFIG_INVALID('give elasticsearch.apiKey or username/password, not both'));
    }
    return problems;
  },
  logger(config, init) {
    const runtime = new ElkRuntime(config, init);
    runtimes.set(runtime.root, runtime);
    return runtime.root;
  },
  register(ctx) {
    const runtime = runtimes.get(ctx.container.get(LoggerToken));
    if (!runtime)
      throw ElkLoggerErrors.KERNEL_UNSUPPORTED(
        "the kernel did not build this plugin's logger (PluginDefinition.logger): the kernel is too old, or another logger replaced it",
      );
    ctx.provide(ElkShippingToken, runtime.shipping);
    if (ctx.container.tryGet(HttpTransportToken)) ctx.http.use(runtime.middleware(), { name: 'elk-logger', order: 1 });
    if (ctx.container.get(KernelInfoToken).plugins.includes('metrics'))
      registerElkMetrics(ctx.container, ctx.name, runtime.shipping);
    // Non-critical: a logging outage is reported, never takes the instance out of rotation.
    ctx.health.check(() => runtime.health(), { critical: false });
    ctx.lifecycle.hook({
      name: 'ship',
      start: () => runtime.open(),
      stop: () => runtime.close(5_000),
      timeoutMs: 10_000,
    });
  },
});
