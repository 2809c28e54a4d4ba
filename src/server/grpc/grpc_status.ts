import type { SendStatus } from '../../protocol/index.js';
import { MqError, type MqErrorCode } from '../../runtime/errors.js';
import { Code, type Status } from './grpc_types.js';

/**
 * Business outcomes of the gRPC endpoint as the proto's `Code` (definition.proto).
 *
 * A business error is ALWAYS a gRPC OK with `status{code, message}` in the response: the
 * official clients read only that status (their StatusChecker), never gRPC trailers, and
 * treat a non-OK gRPC status as a network failure (retry, isolate the endpoint, or — on
 * NotifyClientTermination — a failed shutdown). gRPC's own statuses are left for what the
 * protocol layer itself decides: UNIMPLEMENTED for RPCs the endpoint does not serve.
 */

export const ok_status: Status = { code: Code.OK, message: 'OK' };

/**
 * An outcome named by its proto code where our MqError codes are too coarse: UNAUTHORIZED
 * vs FORBIDDEN (both ACCESS_DENIED inside), ILLEGAL_TOPIC, CLIENT_ID_REQUIRED, ... Thrown by
 * the gRPC handlers; never leaves the endpoint.
 */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}

/**
 * Every MqError code, mapped deliberately (a Record: a new code does not compile until it
 * is mapped here). How the official client reacts to each is in docs/rocketmq-compat.md.
 */
export const code_of_mq_error: Readonly<Record<MqErrorCode, number>> = {
  BAD_REQUEST: Code.BAD_REQUEST,
  TOPIC_NOT_FOUND: Code.TOPIC_NOT_FOUND,
  MESSAGE_TOO_LARGE: Code.MESSAGE_BODY_TOO_LARGE,
  // "No broker serves this topic": from the client's side the topic is not there.
  NO_ROUTE: Code.TOPIC_NOT_FOUND,
  TIMEOUT: Code.PROXY_TIMEOUT,
  // The store cannot take the request now (disk full, a worker restarting): a server-side
  // failure the clients may retry (SimpleConsumer retries only 5000x codes).
  BROKER_UNAVAILABLE: Code.INTERNAL_SERVER_ERROR,
  // A send to a slave. RocketMQ's broker answers NO_PERMISSION there, which its proxy turns
  // into FORBIDDEN; the producer retries any failure on another broker either way.
  NOT_MASTER: Code.FORBIDDEN,
  // Authentication failures are thrown as GrpcStatusError(UNAUTHORIZED) by grpc_auth.ts, so
  // what is left of ACCESS_DENIED is a missing permission (or a topic that is not writable).
  ACCESS_DENIED: Code.FORBIDDEN,
  SHUTTING_DOWN: Code.INTERNAL_SERVER_ERROR,
  INTERNAL: Code.INTERNAL_ERROR,
  // A bounded queue is full: the producer waits its back-off before retrying only on 42900.
  BUSY: Code.TOO_MANY_REQUESTS,
  ACTOR_UNAVAILABLE: Code.INTERNAL_SERVER_ERROR,
  ACTOR_NOT_FOUND: Code.INTERNAL_ERROR,
};

/**
 * The status of a send the store answered with a degraded outcome. The message IS stored; as
 * in RocketMQ, the client sees an error and may send it again (at-least-once).
 */
export const code_of_send_status: Readonly<Record<SendStatus, number>> = {
  SEND_OK: Code.OK,
  FLUSH_DISK_TIMEOUT: Code.MASTER_PERSISTENCE_TIMEOUT,
  FLUSH_SLAVE_TIMEOUT: Code.SLAVE_PERSISTENCE_TIMEOUT,
  SLAVE_NOT_AVAILABLE: Code.HA_NOT_AVAILABLE,
};

export const send_status_messages: Readonly<Record<SendStatus, string>> = {
  SEND_OK: 'OK',
  FLUSH_DISK_TIMEOUT: 'the message is stored but was not flushed to disk in time (--flush sync); it may be sent again',
  FLUSH_SLAVE_TIMEOUT: 'the message is stored on the master but no slave acknowledged it in time (--replication sync); it may be sent again',
  SLAVE_NOT_AVAILABLE: 'the message is stored on the master but no slave is connected (--replication sync); it may be sent again',
};

/** Whether `thrown` is a bug (anything that is neither an MqError nor a GrpcStatusError). */
export function isUnexpected(thrown: unknown): boolean {
  return !(thrown instanceof MqError) && !(thrown instanceof GrpcStatusError);
}

/** The status to answer for anything a handler threw. Unexpected errors say only INTERNAL_ERROR
 *  and their message (the caller logs the stack). */
export function statusOf(thrown: unknown): Status {
  if (thrown instanceof GrpcStatusError) return { code: thrown.code, message: thrown.message };
  if (thrown instanceof MqError) return { code: code_of_mq_error[thrown.code], message: thrown.message };
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return { code: Code.INTERNAL_ERROR, message: `internal error: ${message}` };
}
