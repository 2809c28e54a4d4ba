import { pino, type Logger } from 'pino';

/**
 * Structured logs: one JSON line per event on stderr. Stdout is kept for what scripts parse
 * (the ready line, command output). The level comes from MQ_LOG_LEVEL (default `info`).
 */
export type { Logger };

const root_logger: Logger = pino(
  { level: process.env['MQ_LOG_LEVEL'] ?? 'info', base: { pid: process.pid } },
  pino.destination({ dest: 2, sync: true }),
);

export function logger(component: string, fields: Record<string, unknown> = {}): Logger {
  return root_logger.child({ component, ...fields });
}
