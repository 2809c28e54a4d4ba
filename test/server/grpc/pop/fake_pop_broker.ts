import type { StoredMessage } from '../../../../src/protocol/index.js';
import { MqError } from '../../../../src/runtime/errors.js';
import { client_limit_defaults } from '../../../../src/server/remoting/client_limits.js';
import { messageTagHash, tagFilterAccepts, type TagFilter } from '../../../../src/storage/tag_hash.js';
import type { DeadLetterSource, PopBroker, PopHolder, PopPull } from '../../../../src/server/grpc/pop/pop_broker.js';

interface Held {
  ready: () => boolean;
  answer: () => void;
  hold_ms: number;
}

/**
 * An in-memory broker for the pop engine: topics of queues of messages, committed offsets in
 * a map, long polls held until the test wakes or times them out, dead letters recorded (or
 * failed on demand). Every call is counted where a test looks at it.
 */
export class FakePopBroker implements PopBroker {
  readonly broker_name = 'broker-test';
  readonly queues = new Map<string, StoredMessage[][]>();
  readonly committed = new Map<string, number>();
  readonly commits: Array<{ group: string; topic: string; queue_id: number; offset: number }> = [];
  readonly dead_letters: Array<{ group: string; message: DeadLetterSource }> = [];
  readonly held = new Set<Held>();
  /** Rejects dead-letter appends with this error while set. */
  dead_letter_error: Error | undefined;
  /** Drops commits (as a full mailbox would) while set. */
  drop_commits = false;
  /** Start offset of every queue's window (retention). */
  min_offset = 0;
  private commit_log_offset = 0;
  private appended = 0;
  /** Called with every commit before it is kept (a test checks it against what it acked). */
  on_commit: ((group: string, topic: string, queue_id: number, offset: number) => void) | undefined;
  /** Hold refused (the broker's hold is full) while set. */
  hold_full = false;

  createTopic(topic: string, queues: number): void {
    const existing = this.queues.get(topic) ?? [];
    while (existing.length < queues) existing.push([]);
    this.queues.set(topic, existing);
  }

  /** Appends messages round robin over the topic's queues, or all to `queue_id`. */
  append(topic: string, count: number, options: { queue_id?: number; tag?: string | null; body?: (index: number) => string } = {}): StoredMessage[] {
    const queues = this.queues.get(topic);
    if (queues === undefined) throw new Error(`no topic ${topic}`);
    const added: StoredMessage[] = [];
    for (let index = 0; index < count; index++) {
      const queue_id = options.queue_id ?? this.appended++ % queues.length;
      const queue = queues[queue_id] as StoredMessage[];
      const body = Buffer.from(options.body?.(index) ?? `${topic}/${queue_id}/${queue.length}`);
      const message: StoredMessage = {
        msgId: `MSG${String(this.commit_log_offset).padStart(8, '0')}`,
        topic,
        queueId: queue_id,
        queueOffset: queue.length,
        commitLogOffset: this.commit_log_offset,
        tag: options.tag === undefined ? 'tag-a' : options.tag,
        keys: [],
        properties: {},
        bornTimestamp: 0,
        bornHost: '127.0.0.1:1',
        storeTimestamp: 0,
        storeHost: '127.0.0.1:2',
        reconsumeTimes: 0,
        flags: 0,
        bodyCrc32: 0,
        body,
      };
      this.commit_log_offset += 100;
      queue.push(message);
      added.push(message);
    }
    return added;
  }

  readQueues(topic: string): number {
    const queues = this.queues.get(topic);
    if (queues === undefined) throw new MqError('TOPIC_NOT_FOUND', `topic '${topic}' does not exist`);
    return queues.length;
  }

  window(topic: string, queue_id: number): { min_offset: number; max_offset: number } | undefined {
    const queue = this.queues.get(topic)?.[queue_id];
    if (queue === undefined || queue.length === 0) return undefined;
    return { min_offset: Math.min(this.min_offset, queue.length), max_offset: queue.length };
  }

  pull(topic: string, queue_id: number, queue_offset: number, options: { max_count: number; max_bytes: number; tag_filter: TagFilter }): PopPull {
    const queue = this.queues.get(topic)?.[queue_id];
    if (options.max_count < 1) throw new MqError('BAD_REQUEST', 'max_count < 1');
    if (queue === undefined || queue.length === 0) return { status: 'no_such_queue', messages: [], next_queue_offset: 0 };
    const min_offset = Math.min(this.min_offset, queue.length);
    if (queue_offset < min_offset) return { status: 'offset_too_small', messages: [], next_queue_offset: min_offset };
    if (queue_offset > queue.length) return { status: 'offset_overflow', messages: [], next_queue_offset: queue.length };
    if (queue_offset === queue.length) return { status: 'no_new_message', messages: [], next_queue_offset: queue_offset };
    const messages: StoredMessage[] = [];
    let bytes = 0;
    let offset = queue_offset;
    for (; offset < queue.length && messages.length < options.max_count; offset++) {
      const message = queue[offset] as StoredMessage;
      if (!tagFilterAccepts(options.tag_filter, messageTagHash(message.tag))) continue;
      if (messages.length > 0 && bytes + message.body.length > options.max_bytes) break;
      messages.push(message);
      bytes += message.body.length;
    }
    return { status: messages.length > 0 ? 'found' : 'no_matched_message', messages, next_queue_offset: offset };
  }

  async queryOffset(group: string, topic: string, queue_id: number): Promise<number> {
    await Promise.resolve();
    return this.committed.get(`${group}/${topic}/${queue_id}`) ?? -1;
  }

  commitOffset(group: string, topic: string, queue_id: number, offset: number): boolean {
    if (this.drop_commits) return false;
    const key = `${group}/${topic}/${queue_id}`;
    this.on_commit?.(group, topic, queue_id, offset);
    this.commits.push({ group, topic, queue_id, offset });
    this.committed.set(key, Math.max(this.committed.get(key) ?? -1, offset));
    return true;
  }

  committedOf(group: string, topic: string, queue_id: number): number {
    return this.committed.get(`${group}/${topic}/${queue_id}`) ?? -1;
  }

  hold(ready: () => boolean, answer: () => void, hold_ms: number, _holder: PopHolder): boolean {
    if (this.hold_full) return false;
    this.held.add({ ready, answer, hold_ms });
    return true;
  }

  /** What the store's dispatch wake-up does: answers the holds that are ready. */
  wake(): number {
    let answered = 0;
    for (const held of [...this.held]) {
      if (!held.ready()) continue;
      this.held.delete(held);
      held.answer();
      answered++;
    }
    return answered;
  }

  /** The hold's timers: answers every hold (their time ran out). */
  timeOut(): void {
    for (const held of [...this.held]) {
      this.held.delete(held);
      held.answer();
    }
  }

  async deadLetter(group: string, message: DeadLetterSource): Promise<'stored' | 'gone'> {
    await Promise.resolve();
    if (this.dead_letter_error !== undefined) throw this.dead_letter_error;
    this.dead_letters.push({ group, message });
    return 'stored';
  }
}

export const test_holder: PopHolder = { owner: {}, client: { key: 'address 127.0.0.1', limits: client_limit_defaults } };
