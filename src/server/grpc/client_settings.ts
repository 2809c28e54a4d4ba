import { grpc_settings_defaults } from './grpc_limits.js';
import { GrpcStatusError } from './grpc_status.js';
import { ClientType, Code, type Duration, type RetryPolicy, type Settings } from './grpc_types.js';

/**
 * The Settings a client gets back on its telemetry stream: its own, completed with what the
 * server decides. The official client does not finish start-up until it has them, and it
 * breaks on missing parts (rocketmq-client-nodejs src/producer/PublishingSettings.ts:65-77,
 * src/consumer/PushSubscriptionSettings.ts:89-123; docs/rocketmq-compat.md):
 *
 * - every client: `backoff_policy` with `exponential_backoff` (a producer without it throws
 *   inside its stream handler);
 * - a producer: `publishing.max_body_size` = the broker's body limit (0 would refuse every
 *   send client-side) and `validate_message_type` true (our routes accept every type);
 * - a consumer: `subscription.receive_batch_size` (a PushConsumer asks for 0 messages
 *   without it), `long_polling_timeout` (the client's, capped), and `fifo` as the group's
 *   consumption decides (false until a group can be ordered).
 */
export interface SettingsOptions {
  /** The broker's largest message body, in bytes. */
  max_body_size_bytes: number;
  /** Whether a consumer group is consumed in order (a PushConsumer then runs its FIFO service). */
  fifoOf?: (group: string) => boolean;
}

export function durationOf(ms: number): Duration {
  return { seconds: Math.floor(ms / 1_000), nanos: (ms % 1_000) * 1_000_000 };
}

export function msOf(duration: Duration | undefined | null): number | undefined {
  if (duration === undefined || duration === null) return undefined;
  const ms = duration.seconds * 1_000 + Math.floor(duration.nanos / 1_000_000);
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

function backoff(max_attempts: number): RetryPolicy {
  return {
    max_attempts,
    exponential_backoff: {
      initial: durationOf(grpc_settings_defaults.backoff_initial_ms),
      max: durationOf(grpc_settings_defaults.backoff_max_ms),
      multiplier: grpc_settings_defaults.backoff_multiplier,
    },
  };
}

const consumer_types: ReadonlySet<number> = new Set([ClientType.PUSH_CONSUMER, ClientType.SIMPLE_CONSUMER, ClientType.PULL_CONSUMER]);

/** Whether a client's Settings describe a producer, a consumer, or neither (then undefined). */
export function roleOf(settings: Settings): 'producer' | 'consumer' | undefined {
  if (settings.client_type === ClientType.PRODUCER || (settings.client_type === undefined && settings.pub_sub === 'publishing')) return 'producer';
  if ((settings.client_type !== undefined && consumer_types.has(settings.client_type)) || (settings.client_type === undefined && settings.pub_sub === 'subscription')) return 'consumer';
  return undefined;
}

/** The Settings to answer `client` with; UNRECOGNIZED_CLIENT_TYPE for a client that is neither. */
export function settingsReply(client: Settings, options: SettingsOptions): Settings {
  const common: Settings = {
    ...(client.client_type === undefined ? {} : { client_type: client.client_type }),
    ...(client.access_point === undefined ? {} : { access_point: client.access_point }),
    ...(client.request_timeout === undefined ? {} : { request_timeout: client.request_timeout }),
    user_agent: client.user_agent ?? null,
    metric: { on: false },
  };
  switch (roleOf(client)) {
    case 'producer':
      return {
        ...common,
        backoff_policy: backoff(grpc_settings_defaults.producer_max_attempts),
        publishing: { topics: client.publishing?.topics ?? [], max_body_size: options.max_body_size_bytes, validate_message_type: true },
      };
    case 'consumer': {
      const subscription = client.subscription;
      const group = subscription?.group?.name ?? '';
      const asked_ms = msOf(subscription?.long_polling_timeout);
      const long_polling_ms = Math.min(asked_ms ?? grpc_settings_defaults.long_polling_timeout_ms_default, grpc_settings_defaults.long_polling_timeout_ms_max);
      return {
        ...common,
        backoff_policy: backoff(grpc_settings_defaults.consumer_max_attempts),
        subscription: {
          ...(subscription?.group === undefined ? {} : { group: subscription.group }),
          subscriptions: subscription?.subscriptions ?? [],
          fifo: options.fifoOf?.(group) ?? false,
          receive_batch_size: grpc_settings_defaults.receive_batch_size,
          long_polling_timeout: durationOf(long_polling_ms),
        },
      };
    }
    case undefined:
      throw new GrpcStatusError(Code.UNRECOGNIZED_CLIENT_TYPE, `client_type ${String(client.client_type)} is neither a producer nor a consumer; this endpoint serves PRODUCER, PUSH_CONSUMER and SIMPLE_CONSUMER`);
  }
}
