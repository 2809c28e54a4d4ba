import type * as grpc from '@grpc/grpc-js';
import { logger } from '../../runtime/log.js';
import type { BrokerServices } from '../broker/broker_listener.js';
import { accountClient, addressClient, type ClientIdentity, type ClientLimits } from '../remoting/client_limits.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { grpc_settings_defaults } from './grpc_limits.js';
import { unaryRpc, type RpcImplementations } from './messaging_service.js';
import { BrokerPopAdapter, deadLetterThroughRetry } from './pop/pop_broker_adapter.js';
import { PopEngine } from './pop/pop_engine.js';
import { QueryAssignmentHandler } from './query_assignment.js';
import { ReceiptHandlers } from './receipt_handlers.js';
import { ReceiveMessageHandler } from './receive_message.js';

/**
 * The consumer side of the gRPC endpoint: one PopEngine for the broker, the five consumption
 * RPCs over it, and the registration of consumer groups from Telemetry settings and
 * Heartbeats (so a new group starts at the queues' end when its consumer starts, not at its
 * first receive: messages sent in between are delivered).
 *
 * Ordering (FIFO): RocketMQ keeps a group's `fifo` flag in its subscription-group config,
 * which mq-node does not have. Every group is consumed unordered (`fifo: false`), and the
 * Settings answer says the same (client_settings.ts `fifoOf`), so a PushConsumer runs its
 * standard consume service, never its FIFO one. A group flag can later come from the
 * consumer-group admin; `fifoOf` is the one place to read it.
 *
 * Owned by the broker's main thread. `close` runs when the gRPC endpoint stops — before the
 * broker listener stops and closes the PullHold — and answers held receives empty.
 */
export interface GrpcConsumption {
  rpcs(context: GrpcContext): RpcImplementations;
  /** A consumer named its group and topics (Telemetry settings, Heartbeat): registered when
   *  this settles (it never rejects; a failure is logged and the first receive retries). */
  subscribed(context: GrpcContext, caller: GrpcCaller, group: string, topics: readonly string[]): Promise<void>;
  fifoOf(group: string): boolean;
  close(): void;
}

export function grpcConsumption(broker: BrokerServices, client_limits: ClientLimits): GrpcConsumption {
  const engine = new PopEngine(new BrokerPopAdapter(broker.context, deadLetterThroughRetry(broker.retry)), { log: logger('pop', { broker: broker.context.broker_name }) });
  const settings = { fifo: false, max_attempts: grpc_settings_defaults.consumer_max_attempts };
  const clientOf = (caller: GrpcCaller): ClientIdentity => (caller.account === undefined ? addressClient(caller.remote_ip, client_limits) : accountClient(caller.account.accessKey, client_limits, caller.account.limits));
  let receive: ReceiveMessageHandler | undefined;
  return {
    rpcs(context) {
      receive = new ReceiveMessageHandler(context, engine, clientOf);
      const receipts = new ReceiptHandlers(context, engine);
      const assignment = new QueryAssignmentHandler(context);
      return {
        ReceiveMessage: receive.handle as grpc.UntypedHandleCall,
        AckMessage: unaryRpc(context, 'AckMessage', receipts.ack),
        ChangeInvisibleDuration: unaryRpc(context, 'ChangeInvisibleDuration', receipts.changeInvisibleDuration),
        ForwardMessageToDeadLetterQueue: unaryRpc(context, 'ForwardMessageToDeadLetterQueue', receipts.forwardToDeadLetter),
        QueryAssignment: unaryRpc(context, 'QueryAssignment', assignment.handle),
      };
    },
    async subscribed(context, caller, group, topics) {
      // A slave serves no receives; a caller without SUB is refused at its receive. Neither
      // registers: registering commits a starting offset.
      if (broker.context.store.role === 'slave') return;
      const registering: Array<Promise<void>> = [];
      for (const topic of topics) {
        try {
          context.gate.require(caller, { kind: 'group', group }, 'Telemetry');
          context.gate.require(caller, { kind: 'topic', topic, perm: 'SUB' }, 'Telemetry');
        } catch {
          continue;
        }
        registering.push(engine.register(group, topic, settings).catch((error: unknown) => context.log.debug({ err: error, group, topic }, 'consumer group not registered')));
      }
      await Promise.all(registering);
    },
    fifoOf: () => settings.fifo,
    close() {
      engine.close();
      receive?.releaseAll();
    },
  };
}
