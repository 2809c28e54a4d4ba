/**
 * The SDK: `import { Producer, Consumer, Admin, TransactionProducer, MqError } from 'mq-node'`
 * (package.json "exports" points here). It loads only the client and the wire protocol: no
 * broker code, worker threads or native addons.
 */
export { Producer, type SendOptions } from './producer.js';
export {
  TransactionProducer,
  transaction_producer_limits,
  type EndTransactionStatus,
  type LocalTransaction,
  type TransactionProducerOptions,
  type TransactionSendResult,
} from './transaction_producer.js';
export { transaction_check_limits, type TransactionCheck, type TransactionLogger, type TransactionOutcome } from './transaction_checks.js';
export { Consumer } from './consumer/consumer.js';
export type { ConsumerOptions, SubscriptionOption, ConsumerLogger } from './consumer/consumer_options.js';
export type { ConsumerEvent, ConsumerEventListener } from './consumer/consumer_events.js';
export type { MessageListener } from './consumer/delivery.js';
export type { QueueStats } from './consumer/assigned_queue.js';
export type { CommittedOffset } from './consumer/offset_store.js';
export { Admin, admin_limits } from './admin.js';
export { dead_letter_limits, type DeadLetterResend } from './admin_dead_letters.js';
export { delivery_delay_ms_max } from './message_check.js';
export type { ClusterMemberView, ClusterView, CreateTopicRequestOptions, GroupLag, NamesrvStatusView, QueueLag, RouteView } from './admin_views.js';
export type { GroupListing, GroupMemberView, GroupView } from './admin_groups.js';
export type { MessageQuery, MessageQueryResult } from './admin_message_query.js';
export type { AclAccount, AclNodeOutcome } from './admin_acl.js';
export type { Message, MessageBody, ReceivedMessage, SendResult, SendStatus } from './message.js';
export type { MessageQueue } from './topic_route.js';
export type { QueueSelectorFunction } from './producer_queue_selector.js';
export { parseMessageId, type MessageIdParts } from './message_id.js';
export { client_limits, type AdminOptions, type ClientOptions, type ClientTlsOptions, type ProducerOptions } from './client_options.js';
export { MqError, contract_error_codes, type MqErrorCode } from '../runtime/errors.js';
