import { randomBytes, randomUUID } from 'node:crypto';
import { currentContext } from '@gantry/core';

/** Header names of the envelope (CloudEvents 1.0, Kafka protocol binding, binary mode) and of the router's bookkeeping. */
export const HEADERS = {
  id: 'ce_id',
  type: 'ce_type',
  source: 'ce_source',
  time: 'ce_time',
  specversion: 'ce_specversion',
  subject: 'ce_subject',
  dataschema: 'ce_dataschema',
  /** Extension attribute: the version of the type's data schema. */
  schemaVersion: 'ce_schemaversion',
  contentType: 'content-type',
  traceparent: 'traceparent',
  requestId: 'x-request-id',
  /** Router: the topic the event was first published to. */
  originalTopic: 'gantry-original-topic',
  /** Router: the handler (consumer group) a retry or dead letter belongs to. */
  handler: 'gantry-handler',
  /** Router: epoch ms before which a retry record is not handled. */
  retryAt: 'gantry-retry-at',
  /** Router: JSON list of failed attempts `{ at, error, code }`. */
  attempts: 'gantry-attempts',
  /** Router: the last error, on a dead letter. */
  error: 'gantry-error',
  errorCode: 'gantry-error-code',
  /** Set on records re-published by `events:dlq replay`. */
  replayedAt: 'gantry-replayed-at',
} as const;

/** One failed attempt, as carried in the `gantry-attempts` header. */
export interface AttemptRecord {
  readonly at: string;
  readonly error: string;
  readonly code?: string;
}

/** A received event, as a handler sees it. */
export interface EventEnvelope<T = unknown> {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** ISO 8601 time of publication. */
  readonly time: string;
  readonly subject: string | null;
  /** Version of the type's data schema the publisher used. */
  readonly version: number;
  readonly data: T;
  readonly key: string | null;
  readonly requestId: string | null;
  readonly traceparent: string | null;
  /** Attempt number, 1 for the first delivery. */
  readonly attempt: number;
  /** Where it was read from. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Slot of the request context holding the incoming `traceparent`, so events published while handling one continue its trace. */
export const TRACEPARENT_SLOT: unique symbol = Symbol.for('gantry.kafka-events.traceparent');

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A W3C traceparent for a new span: the current trace (from the context) continued, else a new trace. */
export function nextTraceparent(): string {
  const parent = currentContext()?.get<string>(TRACEPARENT_SLOT);
  const match = parent ? TRACEPARENT.exec(parent) : null;
  const traceId = match?.[1] ?? randomBytes(16).toString('hex');
  const flags = match?.[3] ?? '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

/** True for a well-formed W3C traceparent. */
export function isTraceparent(value: string | undefined): value is string {
  return value !== undefined && TRACEPARENT.test(value);
}

/** Builds the CloudEvents headers of a new event. */
export function envelopeHeaders(input: {
  readonly type: string;
  readonly version: number;
  readonly source: string;
  readonly key: string | null;
}): Record<string, string> {
  const ctx = currentContext();
  const headers: Record<string, string> = {
    [HEADERS.id]: randomUUID(),
    [HEADERS.type]: input.type,
    [HEADERS.source]: input.source,
    [HEADERS.time]: new Date().toISOString(),
    [HEADERS.specversion]: '1.0',
    [HEADERS.dataschema]: `urn:gantry:event:${input.type}:${input.version}`,
    [HEADERS.schemaVersion]: String(input.version),
    [HEADERS.contentType]: 'application/json',
    [HEADERS.traceparent]: nextTraceparent(),
  };
  if (input.key !== null) headers[HEADERS.subject] = input.key;
  if (ctx) headers[HEADERS.requestId] = ctx.requestId;
  return headers;
}

/** The attempt history in a record's headers (empty when absent or unreadable). */
export function attemptsOf(headers: Readonly<Record<string, string>>): AttemptRecord[] {
  const raw = headers[HEADERS.attempts];
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    return Array.isArray(parsed) ? (parsed as AttemptRecord[]) : [];
  } catch {
    return [];
  }
}
