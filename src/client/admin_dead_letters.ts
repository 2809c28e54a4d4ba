/**
 * Reading and resending a consumer group's dead letters (`%DLQ%<group>`, where brokers store
 * messages that failed `maxReconsumeTimes` times). Reading is a PULL of every queue of the
 * topic from its oldest offset, without long polling and without committing any offset: the
 * pull names the group itself (no one consumes a dead-letter topic, so no offset of it is
 * moved) and carries `commitOffset: null`, so listing changes nothing on the broker.
 */
import {
  deadLetterTopicOf,
  decodeGetOffsetResponse,
  decodePullResponse,
  decodeResendDeadLetterResponse,
  encodeGetOffsetRequest,
  encodePullRequest,
  encodeResendDeadLetterRequest,
  request_codes,
  system_properties,
  type PullResponse,
} from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';
import { queuesOf, type QueueRef, type RouteView } from './admin_views.js';
import { mapBounded } from './bounded_parallel.js';
import { receivedMessageOf, sendResultOf, type ReceivedMessage, type SendResult } from './message.js';

export const dead_letter_limits = {
  /** `Admin.deadLetters` returns at most this many unless told. */
  list_max_default: 100,
  /** The most one call reads per queue (also `resendDeadLetter`'s search bound). */
  scan_max: 100_000,
  /** Per pull: messages asked for, and about this many body bytes (the broker caps both). */
  pull_messages_max: 256,
  pull_bytes_max: 4 << 20,
  /** Queues read at once. */
  requests_in_flight_max: 16,
} as const;

/** What reading dead letters needs from Admin (a seam for tests). */
export interface DeadLetterDeps {
  route(topic: string): Promise<RouteView>;
  brokerRequest(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
}

/** A dead letter and the address of the master broker that holds it (where it is resent from). */
export interface LocatedDeadLetter {
  message: ReceivedMessage;
  address: string;
}

/** One dead letter's resend: the result, or why it failed. */
export interface DeadLetterResend {
  deadLetter: ReceivedMessage;
  result: SendResult | null;
  error: MqError | null;
}

/**
 * The group's dead letters, oldest (store time) first, at most `max`; of those read, only the
 * ones `match` accepts (all when absent). Each queue is read from its oldest offset, at most
 * `max` messages of it, so the oldest `max` overall are among those read. A group without a
 * dead-letter topic yet has none. Broker groups without a master are skipped (a dead letter
 * is resent from its master).
 */
export async function readDeadLetters(deps: DeadLetterDeps, group: string, max: number, match?: (message: ReceivedMessage) => boolean): Promise<LocatedDeadLetter[]> {
  const topic = deadLetterTopicOf(group);
  let route: RouteView;
  try {
    route = await deps.route(topic);
  } catch (error) {
    if (error instanceof MqError && (error.code === 'TOPIC_NOT_FOUND' || error.code === 'NO_ROUTE')) return [];
    throw error;
  }
  const per_queue = await mapBounded(queuesOf(route), dead_letter_limits.requests_in_flight_max, (queue) => readQueue(deps, group, queue, max, match));
  const found = per_queue.flat();
  found.sort((a, b) => a.message.storeTimestamp - b.message.storeTimestamp
    || compareText(a.message.brokerName, b.message.brokerName)
    || a.message.queueId - b.message.queueId
    || a.message.queueOffset - b.message.queueOffset);
  return found.slice(0, max);
}

/** True when `msgId` names the dead letter: its own id, or the id its producer got. */
export function isDeadLetterOf(message: ReceivedMessage, msgId: string): boolean {
  const wanted = msgId.toUpperCase();
  return message.msgId.toUpperCase() === wanted || message.properties[system_properties.origin_message_id]?.toUpperCase() === wanted;
}

/** RESEND_DEAD_LETTER: the broker puts the dead letter back into its first topic, attempts reset. */
export async function resendLocated(deps: DeadLetterDeps, located: LocatedDeadLetter): Promise<SendResult> {
  const reply = decodeResendDeadLetterResponse(
    await deps.brokerRequest(located.address, request_codes.RESEND_DEAD_LETTER, encodeResendDeadLetterRequest({ commitLogOffset: located.message.commitLogOffset })),
  );
  if (!reply.ok) throw new MqError('INTERNAL', `unreadable RESEND_DEAD_LETTER reply from ${located.message.brokerName}: ${reply.error.message}`);
  return sendResultOf(reply.value);
}


async function readQueue(deps: DeadLetterDeps, group: string, queue: QueueRef, max: number, match: ((message: ReceivedMessage) => boolean) | undefined): Promise<LocatedDeadLetter[]> {
  const found: LocatedDeadLetter[] = [];
  let offset = await minOffset(deps, queue);
  let read = 0;
  while (read < max) {
    const response = await pull(deps, group, queue, offset, Math.min(dead_letter_limits.pull_messages_max, max - read));
    if (response.status === 'NO_NEW_MSG') break;
    let next = response.nextOffset;
    if (response.status === 'FOUND') {
      for (const stored of response.messages) {
        if (stored.queueOffset < offset || read >= max) continue; // never twice, never past the bound
        read++;
        next = Math.max(next, stored.queueOffset + 1);
        const message = receivedMessageOf(stored, queue.brokerName);
        if (match === undefined || match(message)) found.push({ message, address: queue.address });
      }
    }
    // OFFSET_MOVED (retention passed us) and NO_MATCHED_MSG go on from where the broker says;
    // a reply that does not move forward ends the read instead of looping.
    if (next <= offset) break;
    offset = next;
  }
  return found;
}

async function minOffset(deps: DeadLetterDeps, queue: QueueRef): Promise<number> {
  const reply = decodeGetOffsetResponse(await deps.brokerRequest(queue.address, request_codes.GET_MIN_OFFSET, encodeGetOffsetRequest({ topic: queue.topic, queueId: queue.queueId })));
  if (!reply.ok) throw new MqError('INTERNAL', `unreadable queue offset from ${queue.brokerName}: ${reply.error.message}`);
  return reply.value.offset;
}

async function pull(deps: DeadLetterDeps, group: string, queue: QueueRef, offset: number, count: number): Promise<PullResponse> {
  const body = encodePullRequest({
    consumerGroup: group,
    topic: queue.topic,
    queueId: queue.queueId,
    queueOffset: offset,
    maxCount: count,
    maxBytes: dead_letter_limits.pull_bytes_max,
    tagExpression: '*',
    longPollTimeoutMs: 0,
    commitOffset: null, // read-only: nothing is committed
  });
  const reply = decodePullResponse(await deps.brokerRequest(queue.address, request_codes.PULL, body));
  if (!reply.ok) throw new MqError('INTERNAL', `unreadable PULL reply from ${queue.brokerName}: ${reply.error.message}`);
  return reply.value;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
