import type { TransactionCheckTarget, TransactionCheckTargets } from '../broker/transaction_check_target.js';
import type { GrpcClients } from './grpc_clients.js';
import { outgoingMessage } from './outgoing_message.js';
import { transactionGroupOf } from './send_message.js';
import type { TelemetrySessions } from './telemetry_sessions.js';

/**
 * The RocketMQ 5 producers as transaction check-back targets. Their half messages carry the
 * producer group `%GRPC_TX%<topic>` (send_message.ts), so a check of such a group goes to a
 * producer whose Telemetry settings listed the half message's topic and whose stream is open,
 * round robin over them. The check is a `recover_orphaned_transaction_command` with the
 * message as a consumer would receive it (the client decodes it as a MessageView: it needs
 * the topic, the body digest and the message id) and `transaction_id` = the half message's
 * id, as SendMessage answered it. The client's checker answers with a unary EndTransaction
 * (source SERVER_CHECK, end_transaction.ts); an undecided checker answers nothing, and the
 * next round asks again.
 *
 * Owned by the main thread (the telemetry streams' and the transaction rounds' thread).
 */
export function grpcCheckTargets(clients: GrpcClients, sessions: TelemetrySessions): TransactionCheckTargets {
  let next_pick = 0;
  return {
    pick(producer_group, topic) {
      if (producer_group !== transactionGroupOf(topic)) return undefined;
      const live = clients.producersOf(topic).filter((client) => sessions.has(client.client_id));
      if (live.length === 0) return undefined;
      next_pick = (next_pick + 1) % 1_000_000;
      const client_id = (live[next_pick % live.length] as (typeof live)[number]).client_id;
      const target: TransactionCheckTarget = {
        description: `gRPC client ${client_id}`,
        ask: (check) => sessions.push(client_id, {
          recover_orphaned_transaction_command: { message: outgoingMessage(check.message), transaction_id: check.message.msgId },
        }),
      };
      return target;
    },
  };
}
