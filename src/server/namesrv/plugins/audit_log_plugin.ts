import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RegistryEvent } from '../../../actors/registry/registry_events.js';
import type { NamesrvPlugin, NamesrvPluginFactory } from '../namesrv_plugin.js';

/**
 * The audit log: every registry event as one JSON line appended to `--audit-log`, e.g.
 *
 *   {"time":"2026-01-01T00:00:00.123Z","kind":"broker_removed","seq":7,...,"reason":"expired"}
 *
 * Lines are written synchronously: events are rare (registrations, evictions, topic changes),
 * a line is a few hundred bytes into the page cache, and a synchronous append keeps the file
 * in event order and whole up to the last event even if the process dies right after. It is
 * not fsynced: an operator's record, not a durable log the nameserver recovers from.
 */
class AuditLog implements NamesrvPlugin {
  readonly name = 'audit-log';

  constructor(private readonly fd: number) {}

  onEvent(event: RegistryEvent): void {
    writeSync(this.fd, `${JSON.stringify({ time: new Date(event.at_ms).toISOString(), ...event })}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export const createPlugin: NamesrvPluginFactory = (context) => {
  const path = context.settings.audit_log_path;
  mkdirSync(dirname(path), { recursive: true });
  context.log.info({ path }, 'audit log appends to this file');
  return new AuditLog(openSync(path, 'a'));
};
