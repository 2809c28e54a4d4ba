/**
 * The shapes of the RocketMQ 5 protocol messages this endpoint reads and writes, as
 * @grpc/proto-loader gives them with the options of grpc_proto.ts (snake_case fields, int64 as
 * number, enums as numbers, proto3 defaults filled in, `optional` fields undefined when
 * absent). Only the fields the endpoint uses are typed; the proto files are the reference
 * (proto/apache/rocketmq/v2/{definition,service}.proto).
 *
 * Enum constants copy the proto's numbers; a value outside them can still arrive (a newer
 * client), so code compares against them instead of assuming a closed set.
 */

/** definition.proto `Code`. */
export const Code = {
  CODE_UNSPECIFIED: 0,
  OK: 20_000,
  MULTIPLE_RESULTS: 30_000,
  BAD_REQUEST: 40_000,
  ILLEGAL_ACCESS_POINT: 40_001,
  ILLEGAL_TOPIC: 40_002,
  ILLEGAL_CONSUMER_GROUP: 40_003,
  ILLEGAL_MESSAGE_TAG: 40_004,
  ILLEGAL_MESSAGE_KEY: 40_005,
  ILLEGAL_MESSAGE_GROUP: 40_006,
  ILLEGAL_MESSAGE_PROPERTY_KEY: 40_007,
  INVALID_TRANSACTION_ID: 40_008,
  ILLEGAL_MESSAGE_ID: 40_009,
  ILLEGAL_FILTER_EXPRESSION: 40_010,
  ILLEGAL_INVISIBLE_TIME: 40_011,
  ILLEGAL_DELIVERY_TIME: 40_012,
  INVALID_RECEIPT_HANDLE: 40_013,
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: 40_014,
  UNRECOGNIZED_CLIENT_TYPE: 40_015,
  MESSAGE_CORRUPTED: 40_016,
  CLIENT_ID_REQUIRED: 40_017,
  ILLEGAL_POLLING_TIME: 40_018,
  ILLEGAL_OFFSET: 40_019,
  UNAUTHORIZED: 40_100,
  PAYMENT_REQUIRED: 40_200,
  FORBIDDEN: 40_300,
  NOT_FOUND: 40_400,
  MESSAGE_NOT_FOUND: 40_401,
  TOPIC_NOT_FOUND: 40_402,
  CONSUMER_GROUP_NOT_FOUND: 40_403,
  OFFSET_NOT_FOUND: 40_404,
  REQUEST_TIMEOUT: 40_800,
  PAYLOAD_TOO_LARGE: 41_300,
  MESSAGE_BODY_TOO_LARGE: 41_301,
  MESSAGE_BODY_EMPTY: 41_302,
  PRECONDITION_FAILED: 42_800,
  TOO_MANY_REQUESTS: 42_900,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 43_100,
  MESSAGE_PROPERTIES_TOO_LARGE: 43_101,
  INTERNAL_ERROR: 50_000,
  INTERNAL_SERVER_ERROR: 50_001,
  HA_NOT_AVAILABLE: 50_002,
  NOT_IMPLEMENTED: 50_100,
  PROXY_TIMEOUT: 50_400,
  MASTER_PERSISTENCE_TIMEOUT: 50_401,
  SLAVE_PERSISTENCE_TIMEOUT: 50_402,
  UNSUPPORTED: 50_500,
  VERSION_UNSUPPORTED: 50_501,
  VERIFY_FIFO_MESSAGE_UNSUPPORTED: 50_502,
  FAILED_TO_CONSUME_MESSAGE: 60_000,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

export const Permission = { PERMISSION_UNSPECIFIED: 0, NONE: 1, READ: 2, WRITE: 3, READ_WRITE: 4 } as const;
export const MessageType = { MESSAGE_TYPE_UNSPECIFIED: 0, NORMAL: 1, FIFO: 2, DELAY: 3, TRANSACTION: 4, LITE: 5, PRIORITY: 6 } as const;
export const ClientType = {
  CLIENT_TYPE_UNSPECIFIED: 0, PRODUCER: 1, PUSH_CONSUMER: 2, SIMPLE_CONSUMER: 3, PULL_CONSUMER: 4, LITE_PUSH_CONSUMER: 5, LITE_SIMPLE_CONSUMER: 6,
} as const;
export const AddressScheme = { ADDRESS_SCHEME_UNSPECIFIED: 0, IPv4: 1, IPv6: 2, DOMAIN_NAME: 3 } as const;
export const Encoding = { ENCODING_UNSPECIFIED: 0, IDENTITY: 1, GZIP: 2 } as const;
export const DigestType = { DIGEST_TYPE_UNSPECIFIED: 0, CRC32: 1, MD5: 2, SHA1: 3 } as const;
export const FilterType = { FILTER_TYPE_UNSPECIFIED: 0, TAG: 1, SQL: 2 } as const;
export const TransactionResolution = { TRANSACTION_RESOLUTION_UNSPECIFIED: 0, COMMIT: 1, ROLLBACK: 2 } as const;
export const TransactionSource = { SOURCE_UNSPECIFIED: 0, SOURCE_CLIENT: 1, SOURCE_SERVER_CHECK: 2 } as const;

export interface Status {
  code: number;
  message: string;
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface Duration {
  seconds: number;
  nanos: number;
}

export interface Resource {
  resource_namespace: string;
  name: string;
}

export interface Address {
  host: string;
  port: number;
}

export interface Endpoints {
  scheme: number;
  addresses: Address[];
}

export interface Broker {
  name: string;
  id: number;
  endpoints: Endpoints;
}

export interface MessageQueue {
  topic: Resource;
  id: number;
  permission: number;
  broker: Broker;
  accept_message_types: number[];
}

export interface Digest {
  type: number;
  checksum: string;
}

export interface SystemProperties {
  tag?: string;
  keys: string[];
  message_id: string;
  body_digest?: Digest | null;
  body_encoding: number;
  message_type: number;
  born_timestamp?: Timestamp | null;
  born_host: string;
  store_timestamp?: Timestamp;
  store_host: string;
  delivery_timestamp?: Timestamp;
  receipt_handle?: string;
  queue_id: number;
  queue_offset?: number;
  invisible_duration?: Duration;
  delivery_attempt?: number;
  message_group?: string;
  trace_context?: string;
  lite_topic?: string;
  priority?: number;
}

export interface Message {
  topic?: Resource | null;
  user_properties: Record<string, string>;
  system_properties?: SystemProperties | null;
  body: Buffer;
}

export interface RetryPolicy {
  max_attempts: number;
  exponential_backoff?: { initial: Duration; max: Duration; multiplier: number };
  strategy?: 'exponential_backoff' | 'customized_backoff';
}

export interface Publishing {
  topics: Resource[];
  max_body_size: number;
  validate_message_type: boolean;
}

export interface SubscriptionEntry {
  topic?: Resource | null;
  expression?: { type: number; expression: string } | null;
}

export interface Subscription {
  group?: Resource;
  subscriptions: SubscriptionEntry[];
  fifo?: boolean;
  receive_batch_size?: number;
  long_polling_timeout?: Duration;
}

export interface UserAgent {
  language: number;
  version: string;
  platform: string;
  hostname: string;
}

export interface Settings {
  client_type?: number;
  access_point?: Endpoints;
  backoff_policy?: RetryPolicy;
  request_timeout?: Duration;
  publishing?: Publishing;
  subscription?: Subscription;
  /** Which of publishing/subscription is set (oneofs: true). */
  pub_sub?: 'publishing' | 'subscription';
  user_agent?: UserAgent | null;
  metric?: { on: boolean; endpoints?: Endpoints } | null;
}

export interface TelemetryCommand {
  status?: Status;
  settings?: Settings;
  recover_orphaned_transaction_command?: { message: Message; transaction_id: string };
  verify_message_command?: { nonce: string; message?: Message };
  print_thread_stack_trace_command?: { nonce: string };
  reconnect_endpoints_command?: { nonce: string };
  thread_stack_trace?: { nonce: string; thread_stack_trace?: string };
  verify_message_result?: { nonce: string };
  /** Which command is set (oneofs: true). */
  command?: string;
}

export interface QueryRouteRequest {
  topic?: Resource | null;
  endpoints?: Endpoints | null;
}

export interface QueryRouteResponse {
  status: Status;
  message_queues: MessageQueue[];
}

export interface SendMessageRequest {
  messages: Message[];
}

export interface SendResultEntry {
  status: Status;
  message_id: string;
  transaction_id: string;
  offset: number;
  recall_handle: string;
}

export interface SendMessageResponse {
  status: Status;
  entries: SendResultEntry[];
}

export interface HeartbeatRequest {
  group?: Resource;
  client_type: number;
}

export interface NotifyClientTerminationRequest {
  group?: Resource;
}

export interface EndTransactionRequest {
  topic?: Resource | null;
  message_id: string;
  transaction_id: string;
  resolution: number;
  source: number;
  trace_context: string;
}

/** A response that carries only a status (Heartbeat, NotifyClientTermination, EndTransaction, ...). */
export interface StatusResponse {
  status: Status;
}

export interface FilterExpression {
  type: number;
  expression: string;
}

export interface ReceiveMessageRequest {
  group?: Resource | null;
  message_queue?: MessageQueue | null;
  filter_expression?: FilterExpression | null;
  batch_size: number;
  /** Absent for a PushConsumer: the server's default applies. */
  invisible_duration?: Duration;
  auto_renew: boolean;
  long_polling_timeout?: Duration;
  attempt_id?: string;
}

/** One response of the ReceiveMessage stream: exactly one of the three (a oneof). */
export interface ReceiveMessageResponse {
  status?: Status;
  message?: Message;
  delivery_timestamp?: Timestamp;
}

export interface AckMessageEntry {
  message_id: string;
  receipt_handle: string;
}

export interface AckMessageRequest {
  group?: Resource | null;
  topic?: Resource | null;
  entries: AckMessageEntry[];
}

export interface AckMessageResultEntry {
  message_id: string;
  receipt_handle: string;
  status: Status;
}

export interface AckMessageResponse {
  status: Status;
  entries: AckMessageResultEntry[];
}

export interface ChangeInvisibleDurationRequest {
  group?: Resource | null;
  topic?: Resource | null;
  receipt_handle: string;
  invisible_duration?: Duration | null;
  message_id: string;
}

export interface ChangeInvisibleDurationResponse {
  status: Status;
  receipt_handle: string;
}

export interface ForwardMessageToDeadLetterQueueRequest {
  group?: Resource | null;
  topic?: Resource | null;
  receipt_handle: string;
  message_id: string;
  delivery_attempt: number;
  max_delivery_attempts: number;
}

export interface QueryAssignmentRequest {
  topic?: Resource | null;
  group?: Resource | null;
  endpoints?: Endpoints | null;
}

export interface QueryAssignmentResponse {
  status: Status;
  assignments: Array<{ message_queue: MessageQueue }>;
}
