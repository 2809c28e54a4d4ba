/**
 * Transaction messages (RocketMQ's two-phase send):
 *
 * 1. the producer sends a half message: a SEND whose `flags` has `transaction_flags.prepared`
 *    and whose `producerGroup` is set; the broker stores it, invisible to consumers, and
 *    answers a SendResult whose `commitLogOffset` names the half message;
 * 2. the producer runs its local transaction and sends END_TRANSACTION with the outcome;
 *    COMMIT makes the message visible in its topic, ROLLBACK drops it, UNKNOWN leaves it to:
 * 3. the check-back: for a half message undecided for a while, the broker pushes
 *    CHECK_TRANSACTION_STATE (one-way) to a live producer of the group, which answers with
 *    END_TRANSACTION (`fromCheck: true`).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { stored_message_schema_v1, type StoredMessage } from './pull.js';

export const transaction_protocol_version = 1;

/** Bits of SendRequest.flags. */
export const transaction_flags = {
  /** A half message: stored, invisible, until END_TRANSACTION or the check-back decides it. */
  prepared: 0x4,
} as const;

export const transaction_outcomes = ['COMMIT', 'ROLLBACK', 'UNKNOWN'] as const;
export type TransactionOutcome = (typeof transaction_outcomes)[number];

export interface EndTransactionRequest {
  producerGroup: string;
  /** The half message's CommitLog offset on this broker (its SendResult.commitLogOffset). */
  commitLogOffset: number;
  /** The half message's id (its SendResult.msgId): checked against the stored record. */
  msgId: string;
  outcome: TransactionOutcome;
  /** The answer to a CHECK_TRANSACTION_STATE, not the producer's own end of the transaction. */
  fromCheck: boolean;
}

export const end_transaction_results = ['COMMITTED', 'ROLLED_BACK', 'UNDECIDED', 'ALREADY_DECIDED'] as const;
export type EndTransactionResult = (typeof end_transaction_results)[number];

export interface EndTransactionResponse {
  /** What the broker holds now: the outcome just recorded, still undecided (UNKNOWN), or an
   *  earlier decision (a second answer changes nothing). */
  result: EndTransactionResult;
}

export interface CheckTransactionStateRequest {
  producerGroup: string;
  /** The half message's CommitLog offset and id: send them back in END_TRANSACTION. */
  commitLogOffset: number;
  msgId: string;
  /** The half message as the producer sent it (topic, body, tag, keys, properties). */
  message: StoredMessage;
  /** Checks of this message so far, this one included. */
  checkTimes: number;
}

export const end_transaction_request_v1 = defineCodec<EndTransactionRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'EndTransactionRequest',
    fields: [
      { name: 'producerGroup', type: 'string' },
      { name: 'commitLogOffset', type: 'long' },
      { name: 'msgId', type: 'string' },
      { name: 'outcome', type: { type: 'enum', name: 'TransactionOutcome', symbols: [...transaction_outcomes] } },
      { name: 'fromCheck', type: 'boolean' },
    ],
  },
});

export const end_transaction_response_v1 = defineCodec<EndTransactionResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'EndTransactionResponse',
    fields: [{ name: 'result', type: { type: 'enum', name: 'EndTransactionResult', symbols: [...end_transaction_results] } }],
  },
});

export const check_transaction_state_request_v1 = defineCodec<CheckTransactionStateRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'CheckTransactionStateRequest',
    fields: [
      { name: 'producerGroup', type: 'string' },
      { name: 'commitLogOffset', type: 'long' },
      { name: 'msgId', type: 'string' },
      { name: 'message', type: stored_message_schema_v1 },
      { name: 'checkTimes', type: 'int' },
    ],
  },
});

/** CHECK_TRANSACTION_STATE is one-way: the producer answers with END_TRANSACTION. */
export type CheckTransactionStateAck = Record<string, never>;
export const check_transaction_state_ack_v1 = defineCodec<CheckTransactionStateAck>({
  protocol_version: 1,
  schema: { type: 'record', name: 'CheckTransactionStateAck', fields: [] },
});

export function encodeEndTransactionRequest(value: EndTransactionRequest): Buffer {
  return end_transaction_request_v1.encode(value);
}
export function decodeEndTransactionRequest(bytes: Uint8Array): Result<EndTransactionRequest> {
  return end_transaction_request_v1.decode(bytes);
}
export function encodeEndTransactionResponse(value: EndTransactionResponse): Buffer {
  return end_transaction_response_v1.encode(value);
}
export function decodeEndTransactionResponse(bytes: Uint8Array): Result<EndTransactionResponse> {
  return end_transaction_response_v1.decode(bytes);
}
export function encodeCheckTransactionStateRequest(value: CheckTransactionStateRequest): Buffer {
  return check_transaction_state_request_v1.encode(value);
}
/** The decoded message's body is a view into `bytes`. */
export function decodeCheckTransactionStateRequest(bytes: Uint8Array): Result<CheckTransactionStateRequest> {
  return check_transaction_state_request_v1.decode(bytes);
}
export function encodeCheckTransactionStateAck(value: CheckTransactionStateAck): Buffer {
  return check_transaction_state_ack_v1.encode(value);
}
export function decodeCheckTransactionStateAck(bytes: Uint8Array): Result<CheckTransactionStateAck> {
  return check_transaction_state_ack_v1.decode(bytes);
}
