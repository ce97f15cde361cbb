import type { Logger } from '@gantry/core';
import type { Audit, AuditRecordInput } from '@gantry/plugin-audit';

/**
 * The audit plugin when it is enabled, else nothing. Entries are written after the action they
 * describe: a failed write is logged (the audit plugin logs the entry itself too) and never turns an
 * action already done into an error for the client.
 */
export class AuditTrail {
  constructor(
    private readonly audit: Audit | undefined,
    private readonly logger: Logger,
  ) {}

  /** Records one entry when the audit plugin is enabled. */
  async record(input: AuditRecordInput): Promise<void> {
    if (!this.audit) return;
    try {
      await this.audit.record(input);
    } catch (err) {
      this.logger.warn(
        { action: input.action, code: (err as { code?: unknown }).code ?? 'AUDIT_FAILED' },
        'sessions-redis could not write an audit entry',
      );
    }
  }
}
