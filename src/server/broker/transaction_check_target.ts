import { encodeCheckTransactionStateRequest, request_codes, type StoredMessage } from '../../protocol/index.js';
import type { ProducerGroups } from './producer_groups.js';

/** One check-back: "what became of this half message?" */
export interface TransactionCheck {
  producer_group: string;
  half_offset: number;
  check_times: number;
  /** The half message as its producer sent it: real topic and queue, its own properties. */
  message: StoredMessage;
}

/**
 * A live producer that can be asked about a half message, whatever its protocol: a framed
 * (remoting) producer connection gets CHECK_TRANSACTION_STATE; a RocketMQ 5 producer gets a
 * recover_orphaned_transaction_command on its Telemetry stream (grpc/grpc_check_targets.ts).
 * Either answers later with its own end-transaction request; nothing waits here.
 */
export interface TransactionCheckTarget {
  /** Who it is, for logs. */
  readonly description: string;
  /** Sends the check; false when it could not be sent (the connection or stream is closing). */
  ask(check: TransactionCheck): boolean;
}

/** Where producers of a group are found: undefined when this source has none live. */
export interface TransactionCheckTargets {
  pick(producer_group: string, topic: string): TransactionCheckTarget | undefined;
}

/** The remoting producers, from their heartbeats (ProducerGroups), as check-back targets. */
export function framedCheckTargets(producers: ProducerGroups): TransactionCheckTargets {
  return {
    pick(producer_group) {
      const connection = producers.pick(producer_group);
      if (connection === undefined) return undefined;
      return {
        description: `connection ${connection.remote}`,
        ask: (check) => connection.push(request_codes.CHECK_TRANSACTION_STATE, encodeCheckTransactionStateRequest({
          producerGroup: check.producer_group,
          commitLogOffset: check.half_offset,
          msgId: check.message.msgId,
          message: check.message,
          checkTimes: check.check_times,
        })),
      };
    },
  };
}
