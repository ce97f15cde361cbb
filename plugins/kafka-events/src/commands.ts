import type { Events } from './events.js';
import { KafkaEventsErrors } from './errors.js';

/** Where a command prints (stdout in production). */
export type Print = (line: string) => void;

/**
 * `events:dlq list [type]`: one line per dead letter (id, type, handler, attempts, last error).
 * `events:dlq replay <id>... | --all [--type <type>]`: re-publishes them to their original topic.
 */
export async function dlqCommand(events: Events, args: readonly string[], print: Print): Promise<number> {
  const [action, ...rest] = args;
  if (action === 'list') {
    if (rest.length > 1)
      throw KafkaEventsErrors.COMMAND_USAGE(`events:dlq list takes at most one type, got ${rest.join(' ')}`);
    const letters = await events.deadLetters(rest[0]);
    for (const l of letters) {
      print(
        [l.id, l.type, l.handler, `attempts=${l.attempts.length}`, l.time, l.code ?? '-', JSON.stringify(l.error)].join(
          '\t',
        ),
      );
    }
    print(`events: ${letters.length} dead letter${letters.length === 1 ? '' : 's'}`);
    return 0;
  }
  if (action === 'replay') {
    let type: string | undefined;
    let all = false;
    const ids: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === '--all') all = true;
      else if (arg === '--type') {
        type = rest[++i];
        if (!type) throw KafkaEventsErrors.COMMAND_USAGE('--type needs an event type');
      } else if (arg.startsWith('-')) throw KafkaEventsErrors.COMMAND_USAGE(`unknown option ${arg}`);
      else ids.push(arg);
    }
    if (all === ids.length > 0)
      throw KafkaEventsErrors.COMMAND_USAGE('events:dlq replay needs event ids or --all (not both)');
    const count = await events.replay({ ids, ...(type ? { type } : {}) });
    print(`events: replayed ${count} dead letter${count === 1 ? '' : 's'}`);
    return 0;
  }
  throw KafkaEventsErrors.COMMAND_USAGE(`unknown action ${JSON.stringify(action ?? '')}`);
}
