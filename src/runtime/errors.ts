/**
 * MqError: the one error type that crosses a boundary (thread, socket, SDK call).
 *
 * Conditions a user, the network or the disk can cause are MqErrors with a stable string
 * `code` (contract.md) and a `retriable` flag that tells the caller whether the same
 * request may succeed later. Bugs are not MqErrors: they are failed assertions (assert.ts).
 */

/** Codes named in contract.md; users match on these strings, so they never change. */
export const contract_error_codes = [
  'BAD_REQUEST',
  'TOPIC_NOT_FOUND',
  'MESSAGE_TOO_LARGE',
  'NO_ROUTE',
  'TIMEOUT',
  'BROKER_UNAVAILABLE',
  'NOT_MASTER',
  'ACCESS_DENIED',
  'SHUTTING_DOWN',
  'INTERNAL',
] as const;

/** Codes added since the contract was written (adding is allowed, renaming is not). */
export const added_error_codes = [
  /** A bounded queue (mailbox, in-flight map) is full: back off and try again. */
  'BUSY',
  /** The actor exists but cannot take messages now (its thread died, it is restarting or failed). */
  'ACTOR_UNAVAILABLE',
  /** No actor has that address. */
  'ACTOR_NOT_FOUND',
] as const;

export type MqErrorCode = (typeof contract_error_codes)[number] | (typeof added_error_codes)[number];

const retriable_by_default: Readonly<Record<MqErrorCode, boolean>> = {
  BAD_REQUEST: false,
  TOPIC_NOT_FOUND: false,
  MESSAGE_TOO_LARGE: false,
  NO_ROUTE: true,
  TIMEOUT: true,
  BROKER_UNAVAILABLE: true,
  NOT_MASTER: true,
  ACCESS_DENIED: false,
  SHUTTING_DOWN: true,
  INTERNAL: false,
  BUSY: true,
  ACTOR_UNAVAILABLE: true,
  ACTOR_NOT_FOUND: false,
};

export function isMqErrorCode(value: unknown): value is MqErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(retriable_by_default, value);
}

export interface MqErrorOptions {
  retriable?: boolean;
  cause?: unknown;
}

export class MqError extends Error {
  readonly code: MqErrorCode;
  readonly retriable: boolean;

  constructor(code: MqErrorCode, message: string, options: MqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MqError';
    this.code = code;
    this.retriable = options.retriable ?? retriable_by_default[code];
  }

  override toString(): string {
    return `MqError[${this.code}]: ${this.message}`;
  }
}

/** Turns anything thrown into an MqError; what is not already one is a bug, so INTERNAL. */
export function toMqError(thrown: unknown): MqError {
  if (thrown instanceof MqError) return thrown;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new MqError('INTERNAL', message, { cause: thrown });
}
