import {
  decodeCommitConsumerOffsetRequest,
  decodeGetOffsetRequest,
  decodePullRequest,
  decodeQueryConsumerOffsetRequest,
  encodeCommitConsumerOffsetResponse,
  encodeGetOffsetResponse,
  encodePullResponse,
  encodeQueryConsumerOffsetResponse,
  perm_read,
  internal_topics,
  type PullRequest,
  type PullResponse,
  type PullStatus,
} from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { PullResult } from '../../storage/store_reader.js';
import { parseSubscription, type TagFilter } from '../../storage/tag_hash.js';
import type { RequestContext } from '../remoting/request_router.js';
import type { ServerConnection } from '../remoting/server_connection.js';
import type { BrokerContext } from './broker_context.js';
import { storedMessageOf } from './stored_message.js';
import type { TopicSettings } from './topic_config_store.js';
import type { BrokerTraffic } from './broker_traffic.js';

export const pull_limits = {
  messages_per_pull_max: 1_024,
  bytes_per_pull_max: 8 << 20,
} as const;

/**
 * PULL (with long polling), the queue offset range, and consumer offsets. Pulls read on this
 * thread from the mapped files (StoreReader): no hop to an actor; the bodies are copied once,
 * into the response frame.
 */
export class PullHandlers {
  constructor(
    private readonly broker: BrokerContext,
    /** Counts what PULL returned, per topic (/metrics). */
    private readonly traffic: BrokerTraffic,
  ) {}

  readonly pull = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const decoded = decodePullRequest(body);
    if (!decoded.ok) throw new MqError('BAD_REQUEST', `PULL body: ${decoded.error.message}`);
    const request = decoded.value;
    this.readableTopic(request.topic, request.queueId);
    const filter = parseSubscription(request.tagExpression).filter;
    if (request.commitOffset !== null && request.consumerGroup !== '') {
      this.broker.store.offsets.tell({ kind: 'commit', group: request.consumerGroup, topic: request.topic, queue_id: request.queueId, offset: request.commitOffset });
    }
    const first = this.read(request, filter, context.connection);
    if (first.status !== 'NO_NEW_MSG' || request.longPollTimeoutMs <= 0) return encodePullResponse(first);
    // At the end of the queue: hold until a message arrives or the poll time runs out.
    const answered = await new Promise<PullResponse>((resolve) => {
      const ready = (): boolean => (this.broker.store.reader.window(request.topic, request.queueId)?.max_offset ?? 0) > request.queueOffset;
      // A consumer that left while its pull was held gets nothing read for it: the answer
      // would go to a closed connection (and cost a read of the queue and the CommitLog).
      const answer = (): void => resolve(context.connection.open ? this.read(request, filter, context.connection) : first);
      const held = this.broker.pulls.hold(ready, answer, request.longPollTimeoutMs);
      if (!held) resolve(first);
    });
    return encodePullResponse(answered);
  };

  readonly minOffset = (body: Uint8Array): Uint8Array => this.offsetEnd(body, 'min');
  readonly maxOffset = (body: Uint8Array): Uint8Array => this.offsetEnd(body, 'max');

  readonly queryConsumerOffset = async (body: Uint8Array): Promise<Uint8Array> => {
    const request = decodeQueryConsumerOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `QUERY_CONSUMER_OFFSET body: ${request.error.message}`);
    const { group, topic, queueId } = request.value;
    const offset = await this.broker.store.offsets.ask({ kind: 'query', group, topic, queue_id: queueId });
    return encodeQueryConsumerOffsetResponse({ offset });
  };

  readonly commitConsumerOffset = async (body: Uint8Array): Promise<Uint8Array> => {
    const request = decodeCommitConsumerOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `COMMIT_CONSUMER_OFFSET body: ${request.error.message}`);
    const { group, topic, queueId, offset } = request.value;
    this.readableTopic(topic, queueId);
    await this.broker.store.offsets.ask({ kind: 'commit', group, topic, queue_id: queueId, offset });
    return encodeCommitConsumerOffsetResponse({});
  };

  private read(request: PullRequest, tag_filter: TagFilter, connection: ServerConnection): PullResponse {
    const result = this.broker.store.reader.pull(request.topic, request.queueId, request.queueOffset, {
      max_count: Math.min(Math.max(1, request.maxCount), pull_limits.messages_per_pull_max),
      max_bytes: Math.min(Math.max(1, request.maxBytes), pull_limits.bytes_per_pull_max),
      tag_filter,
    });
    const messages = result.records.map(storedMessageOf);
    // Every read that found messages is the one answered (a long poll reads again only after
    // its first read found none), so counting here counts what PULL returned; a read for a
    // connection that closed meanwhile reached no one and is not counted.
    if (messages.length > 0 && connection.open) {
      let body_bytes = 0;
      for (const message of messages) body_bytes += message.body.byteLength;
      this.traffic.returned(request.topic, messages.length, body_bytes);
    }
    return {
      status: pullStatusOf(result),
      nextOffset: result.status === 'no_such_queue' ? request.queueOffset : result.next_queue_offset,
      minOffset: result.min_offset,
      maxOffset: result.max_offset,
      messages,
    };
  }

  private offsetEnd(body: Uint8Array, end: 'min' | 'max'): Uint8Array {
    const request = decodeGetOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_${end.toUpperCase()}_OFFSET body: ${request.error.message}`);
    this.readableTopic(request.value.topic, request.value.queueId);
    const window = this.broker.store.reader.window(request.value.topic, request.value.queueId);
    return encodeGetOffsetResponse({ offset: window === undefined ? 0 : end === 'min' ? window.min_offset : window.max_offset });
  }

  private readableTopic(name: string, queue_id: number): TopicSettings {
    // Defence in depth: topic configs refuse it too (a file from an older build might not).
    if (internal_topics.has(name)) throw new MqError('TOPIC_NOT_FOUND', `topic '${name}' is internal to the broker; delayed and transaction messages are read in their own topics once due or committed`);
    const topic = this.broker.topics.get(name);
    if (topic === undefined) throw new MqError('TOPIC_NOT_FOUND', `topic '${name}' does not exist on broker ${this.broker.broker_name}`);
    if ((topic.perm & perm_read) === 0) throw new MqError('ACCESS_DENIED', `topic '${name}' is not readable on broker ${this.broker.broker_name}`);
    if (!Number.isInteger(queue_id) || queue_id < 0 || queue_id >= topic.readQueues) {
      throw new MqError('BAD_REQUEST', `queue ${queue_id} does not exist: topic '${name}' has queues 0..${topic.readQueues - 1} on broker ${this.broker.broker_name}`);
    }
    return topic;
  }
}

function pullStatusOf(result: PullResult): PullStatus {
  switch (result.status) {
    case 'found':
      return 'FOUND';
    case 'no_matched_message':
      return 'NO_MATCHED_MSG';
    case 'offset_too_small':
    case 'offset_overflow':
      return 'OFFSET_MOVED';
    case 'no_new_message':
    case 'no_such_queue':
      return 'NO_NEW_MSG';
  }
}
