import { defineErrors } from '@gantry/core';

/** Error registry of the `elk-logger` plugin (codes `GANTRY_ELK_LOGGER_<REASON>`). Retired codes are never reused. */
export const ElkLoggerErrors = defineErrors('elk-logger', {
  CONFIG_INVALID: {
    status: 500,
    title: 'elk-logger options are invalid',
    fix: 'give elasticsearch.url as http(s)://host:port without credentials in it (use username/password or apiKey), and a data stream name like "logs-gantry-default"',
  },
  SHIP_FAILED: {
    status: 503,
    title: 'Log lines could not be shipped',
    fix: 'check that Logstash (tcp input, codec json_lines) or Elasticsearch answers at the configured address; lines are buffered up to the bound, then the oldest are dropped and counted (elk_logger_dropped_total)',
  },
  KERNEL_UNSUPPORTED: {
    status: 500,
    title: 'The kernel cannot use this logger',
    fix: 'use @gantry/core 0.1 with logger plugins (PluginDefinition.logger), and enable only one logger plugin',
  },
  TEMPLATE_FAILED: {
    status: 503,
    title: 'The index template could not be installed',
    fix: 'check that Elasticsearch answers and that the user may manage index templates (PUT _index_template); the plugin retries before the next bulk request',
  },
});
