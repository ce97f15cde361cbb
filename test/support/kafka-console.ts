/**
 * Kafka's own console tools (the Java clients) from the jars test/services/kafka.sh and kafka-kraft.sh
 * cached, to check what our Node clients write and read against the reference implementation.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file runs from test/dist/support/). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Which cached service's jars to run: `kafka` (3.9.1) or `kafka-kraft` (4.4.0). */
export type KafkaService = 'kafka' | 'kafka-kraft';

export interface ConsoleConsumeOptions {
  readonly service: KafkaService;
  /** `host:port` of the broker. */
  readonly bootstrap: string;
  readonly topic: string;
  /** Stops after this many records. */
  readonly maxMessages: number;
  /** Gives up when no record arrives for this long (the tool's --timeout-ms). Default 20000. */
  readonly timeoutMs?: number;
}

/** One record as ConsoleConsumer printed it with print.partition/headers/key on. */
export interface ConsoleRecord {
  readonly partition: number;
  /** `name:value` pairs as printed; empty when the record had none. */
  readonly headers: Readonly<Record<string, string>>;
  readonly key: string;
  readonly value: string;
}

function libDir(service: KafkaService): string {
  const dir = join(REPO_ROOT, '.cache', 'services', service, 'lib');
  if (!existsSync(dir)) {
    throw new Error(`${dir} is missing. Fix: sh test/services/${service}.sh ensure (it fetches the jars once)`);
  }
  return dir;
}

function isKafka3(service: KafkaService): boolean {
  return readdirSync(libDir(service)).some((f) => /^kafka_2\.13-3\./.test(f));
}

function java(args: string[], input: string | undefined, timeoutMs: number): Promise<string> {
  const bin = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-Dlog4j2.level=warn', ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Reads a topic from the beginning with Kafka's ConsoleConsumer (org.apache.kafka.tools.consumer.ConsoleConsumer,
 * in kafka-tools for 3.9 and 4.x) and parses the `partition \t headers \t key \t value` lines it prints.
 */
export async function consoleConsume(options: ConsoleConsumeOptions): Promise<ConsoleRecord[]> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const out = await java(
    [
      '-cp',
      `${libDir(options.service)}/*`,
      'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server',
      options.bootstrap,
      '--topic',
      options.topic,
      '--from-beginning',
      '--max-messages',
      String(options.maxMessages),
      '--timeout-ms',
      String(timeoutMs),
      '--property',
      'print.partition=true',
      '--property',
      'print.headers=true',
      '--property',
      'print.key=true',
    ],
    undefined,
    timeoutMs + 30_000,
  );
  return out
    .split('\n')
    .filter((line) => line.startsWith('Partition:'))
    .map((line) => {
      const [partition, headers, key, ...value] = line.split('\t');
      const parsed: Record<string, string> = {};
      if (headers && headers !== 'NO_HEADERS') {
        for (const pair of headers.split(',')) {
          const at = pair.indexOf(':');
          parsed[pair.slice(0, at)] = pair.slice(at + 1);
        }
      }
      return {
        partition: Number(partition?.replace('Partition:', '')),
        headers: parsed,
        key: key ?? '',
        value: value.join('\t'),
      };
    });
}

/**
 * Writes `key:value` lines with Kafka's ConsoleProducer (kafka.tools.ConsoleProducer in 3.9,
 * org.apache.kafka.tools.ConsoleProducer in 4.x), with the Java client's default partitioner.
 */
export async function consoleProduce(options: {
  readonly service: KafkaService;
  readonly bootstrap: string;
  readonly topic: string;
  readonly records: ReadonlyArray<{ key: string; value: string }>;
}): Promise<void> {
  const main = isKafka3(options.service) ? 'kafka.tools.ConsoleProducer' : 'org.apache.kafka.tools.ConsoleProducer';
  await java(
    [
      '-cp',
      `${libDir(options.service)}/*`,
      main,
      '--bootstrap-server',
      options.bootstrap,
      '--topic',
      options.topic,
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=|',
      '--producer-property',
      'acks=all',
    ],
    `${options.records.map((r) => `${r.key}|${r.value}`).join('\n')}\n`,
    60_000,
  );
}
