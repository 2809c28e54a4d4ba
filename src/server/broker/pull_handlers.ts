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
import type { BrokerContext } from './broker_context.js';
import { storedMessageOf } from './stored_message.js';
import type { TopicSettings } from './topic_config_store.js';
import type { BrokerTraffic } from './broker_traffic.js';

export const pull_limits = {
  messages_per_pull_max: 1_024,
  bytes_per_pull_max: 8 << 20,
  /** Reply bytes reserved per message besides its CommitLog record (the ids and host
   *  strings the response adds): an estimate for the connection's reply budget. */
  reply_bytes_per_message_extra: 256,
} as const;

/** A read whose reply did not fit the connection's reply budget (it copied nothing). */
const over_budget = 'over_budget';

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
    context.authorize({ kind: 'topic', topic: request.topic, perm: 'SUB' });
    if (request.consumerGroup !== '') context.authorize({ kind: 'group', group: request.consumerGroup });
    this.readableTopic(request.topic, request.queueId);
    const filter = parseSubscription(request.tagExpression).filter;
    if (request.commitOffset !== null && request.consumerGroup !== '') {
      this.broker.store.offsets.tell({ kind: 'commit', group: request.consumerGroup, topic: request.topic, queue_id: request.queueId, offset: request.commitOffset });
    }
    const first = this.read(request, filter, context);
    // Replies this connection asked for earlier are still being built: answered empty at once,
    // like a pull over the hold's bounds, and the consumer pulls again shortly.
    if (first === over_budget) return encodePullResponse(this.notNow(request));
    if (first.status !== 'NO_NEW_MSG' || request.longPollTimeoutMs <= 0) return encodePullResponse(first);
    // At the end of the queue: hold until a message arrives or the poll time runs out.
    const answered = await new Promise<PullResponse>((resolve) => {
      const ready = (): boolean => (this.broker.store.reader.window(request.topic, request.queueId)?.max_offset ?? 0) > request.queueOffset;
      // A consumer that left while its pull was held gets nothing read for it: the answer
      // would go to a closed connection (and cost a read of the queue and the CommitLog).
      const answer = (): void => {
        const read = context.connection.open ? this.read(request, filter, context) : first;
        resolve(read === over_budget ? this.notNow(request) : read);
      };
      // Not held (the broker's, this connection's or this client's hold is full): answered empty at once,
      // which a consumer takes as any empty pull (pull_hold.ts says why not an error).
      const held = this.broker.pulls.hold(ready, answer, request.longPollTimeoutMs, context.connection, context.client);
      if (!held) resolve(first);
    });
    return encodePullResponse(answered);
  };

  readonly minOffset = (body: Uint8Array, context: RequestContext): Uint8Array => this.offsetEnd(body, 'min', context);
  readonly maxOffset = (body: Uint8Array, context: RequestContext): Uint8Array => this.offsetEnd(body, 'max', context);

  readonly queryConsumerOffset = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const request = decodeQueryConsumerOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `QUERY_CONSUMER_OFFSET body: ${request.error.message}`);
    const { group, topic, queueId } = request.value;
    context.authorize({ kind: 'group', group });
    context.authorize({ kind: 'topic', topic, perm: 'SUB' });
    const offset = await this.broker.store.offsets.ask({ kind: 'query', group, topic, queue_id: queueId });
    return encodeQueryConsumerOffsetResponse({ offset });
  };

  readonly commitConsumerOffset = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const request = decodeCommitConsumerOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `COMMIT_CONSUMER_OFFSET body: ${request.error.message}`);
    const { group, topic, queueId, offset } = request.value;
    context.authorize({ kind: 'group', group });
    context.authorize({ kind: 'topic', topic, perm: 'SUB' });
    this.readableTopic(topic, queueId);
    await this.broker.store.offsets.ask({ kind: 'commit', group, topic, queue_id: queueId, offset });
    return encodeCommitConsumerOffsetResponse({});
  };

  private read(request: PullRequest, tag_filter: TagFilter, context: RequestContext): PullResponse | typeof over_budget {
    const connection = context.connection;
    const result = this.broker.store.reader.pull(request.topic, request.queueId, request.queueOffset, {
      max_count: Math.min(Math.max(1, request.maxCount), pull_limits.messages_per_pull_max),
      max_bytes: Math.min(Math.max(1, request.maxBytes), pull_limits.bytes_per_pull_max),
      tag_filter,
    });
    // The records are views into the mapped files; the reply copies them. Reserved before
    // that copy, so that pulls sent together cannot copy more than the budget at once.
    let reply_bytes = 0;
    for (const record of result.records) reply_bytes += record.total_size + pull_limits.reply_bytes_per_message_extra;
    if (reply_bytes > 0 && !context.reserveReplyBytes(reply_bytes)) return over_budget;
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

  /** An empty answer that leaves the consumer where it is (it pulls again after a pause). */
  private notNow(request: PullRequest): PullResponse {
    const window = this.broker.store.reader.window(request.topic, request.queueId);
    return { status: 'NO_NEW_MSG', nextOffset: request.queueOffset, minOffset: window?.min_offset ?? 0, maxOffset: window?.max_offset ?? 0, messages: [] };
  }

  private offsetEnd(body: Uint8Array, end: 'min' | 'max', context: RequestContext): Uint8Array {
    const request = decodeGetOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_${end.toUpperCase()}_OFFSET body: ${request.error.message}`);
    context.authorize({ kind: 'topic', topic: request.value.topic, perm: 'SUB' });
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
