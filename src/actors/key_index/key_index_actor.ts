import { internal_topics } from '../../protocol/index.js';
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import { assertNever } from '../../runtime/assert.js';
import { MqError } from '../../runtime/errors.js';
import { CommitLogReader } from '../../storage/commit_log_reader.js';
import { KeyIndex, key_index_limits } from '../../storage/key_index.js';
import { decodeMessageProperties, keys_property } from '../../storage/message_properties.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { readableEnd, readableEndMoved } from '../../storage/readable_end.js';
import { commitLogDirs, keyIndexDir } from '../../storage/storage_paths.js';
import type { StoreArgs } from '../store/store_args.js';
import { key_index_protocol, key_index_time_max_ms, type KeyIndexMessage, type KeyIndexReply } from './key_index_messages.js';

/** Records read per tick: lookups (and the thread's other actors) get a turn between ticks. */
const records_per_tick_max = 8_192;
/** When caught up, wait at most this long for the writer before looking again. */
const idle_wait_ms = 1_000;
/** How often the index is made durable (then its covered offset) and follows retention. */
const housekeeping_interval_ms = 1_000;
/** `KEYS` then the name/value separator: a record without these bytes in its properties has
 *  no keys, and is skipped without decoding them (most records). */
const keys_marker = Buffer.from(`${keys_property}\u0001`, 'latin1');

/**
 * Follows the CommitLog and indexes every record's keys (the `KEYS` property) in the key
 * index (storage/key_index.ts), as dispatch does for the ConsumeQueues: its own read-only
 * mapping, up to what is readable — the write offset under async flush, the flush offset
 * under sync flush — a bounded number of records per tick, and a wait on the control block
 * when caught up. Records of the broker's internal topics (scheduled copies, half messages,
 * the transaction log) are not indexed: clients never read those topics, and a delayed or
 * committed message is indexed when it reaches its real topic.
 *
 * Answers lookups (candidate CommitLog offsets; the store checks each record) and status.
 *
 * Resumes at start from the index's covered offset; what is re-read there and is already
 * indexed adds nothing (key_index.ts), so a restart after a kill neither loses nor doubles
 * an entry. A CommitLog shorter than the index covers (cut by recovery, or a slave
 * truncated) takes the index back with it first.
 *
 * Runs on the store's service thread, on masters and slaves alike (a slave serves lookups).
 * Owns the files under `<data>/index/`.
 */
class KeyIndexActor {
  private readonly control: StoreControl;
  private readonly index: KeyIndex;
  private reader!: CommitLogReader;
  private position = 0;
  private readonly self;
  private waiting = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** The running housekeeping (an async flush): stop waits for it before closing the files. */
  private housekeeping_run: Promise<void> | undefined;
  private indexed_records = 0;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.index = new KeyIndex({ dir: keyIndexDir(args.data_dir), slots_per_file: args.key_index_slots_per_file, entries_per_file: args.key_index_entries_per_file, log: context.log });
    this.self = context.actorOf(context.address, key_index_protocol);
  }

  start(): void {
    this.index.load();
    const segments = new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only').load();
    this.reader = new CommitLogReader(segments);
    // The writer started before this actor: its write offset is where the recovered log ends.
    const log_end = this.control.load('write_offset');
    const last = this.index.last_commit_offset;
    if ((this.index.covered_offset ?? 0) > log_end || (last !== undefined && last >= log_end)) {
      const removed = this.index.truncateTo(log_end);
      this.context.log.warn({ log_end, entries_removed: removed }, 'key index: the CommitLog ends before what was indexed; entries past its end taken back');
    }
    const min_offset = Math.max(this.control.load('min_offset'), segments.min_offset);
    this.position = Math.max(this.index.covered_offset ?? min_offset, min_offset);
    this.index.setCovered(this.position);
    this.timer = setInterval(() => {
      this.housekeeping_run ??= this.housekeeping().finally(() => (this.housekeeping_run = undefined));
    }, housekeeping_interval_ms);
    this.self.tell({ kind: 'tick' });
  }

  receive(message: KeyIndexMessage): KeyIndexReply {
    switch (message.kind) {
      case 'tick':
        this.tick();
        return this.reply([]);
      case 'lookup': {
        const range = { begin_ms: message.begin_ms ?? 0, end_ms: message.end_ms ?? key_index_time_max_ms };
        return this.reply(this.index.lookup(message.topic, message.key, Math.min(message.limit, key_index_limits.lookup_results_max), range));
      }
      case 'status':
        return this.reply([]);
      default:
        return assertNever(message, 'key index message');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.housekeeping_run;
    this.index.close();
  }

  inspect(): Record<string, unknown> {
    const description = this.index.describe();
    return {
      covered_offset: this.position,
      readable_offset: this.readable().offset,
      indexed_records: this.indexed_records,
      files: description.files,
      entries: description.entries,
      newest_files: description.newest.map((file) => ({ ...file })),
    };
  }

  private reply(offsets: number[]): KeyIndexReply {
    return { offsets, covered_offset: this.position, files: this.index.file_count, entries: this.index.entry_count };
  }

  private readable(): { offset: number; seq: number } {
    return readableEnd(this.control, this.args.flush_mode);
  }

  private tick(): void {
    this.waiting = false;
    if (this.stopped) return;
    const min_offset = this.control.load('min_offset');
    this.reader.forgetBefore(min_offset);
    // Retention deleted records not indexed yet (this lagged that far): skip them.
    if (this.position < min_offset) this.position = min_offset;
    const { offset: readable, seq } = this.readable();
    if (this.position < readable) {
      let records = 0;
      try {
        // Structural checks only (magic, size, own offset): these bytes were written by this
        // process's writer (or checked by recovery); the CRC is checked by readers.
        this.position = this.reader.scan(
          this.position,
          readable,
          (record, offset) => {
            if (records === records_per_tick_max) return false;
            records++;
            const properties = record.properties;
            if (properties.indexOf(keys_marker) < 0) return;
            const topic = record.topic;
            if (internal_topics.has(topic)) return;
            this.index.addRecord(topic, decodeMessageProperties(properties).keys, offset, record.store_timestamp);
            this.indexed_records++;
          },
          { verify_crc: false },
        );
      } catch (error) {
        // A bug (a failed assertion) crashes the actor: its supervisor restarts it from the
        // index's durable state. A record the scan cannot pass (damage past recovery's
        // check, an MqError): keep what was indexed before it, say so, and look again later
        // rather than stop following the log.
        if (!(error instanceof MqError)) throw error;
        this.context.log.error({ err: error, position: this.position }, 'key index: CommitLog scan failed; retrying');
        this.index.setCovered(this.position);
        this.waitForWriter(seq, true);
        return;
      }
      this.index.setCovered(this.position);
    }
    if (this.position < this.readable().offset) {
      this.self.tell({ kind: 'tick' });
      return;
    }
    this.waitForWriter(seq);
  }

  private waitForWriter(seen_seq: number, after_failure = false): void {
    if (this.waiting || this.stopped) return;
    this.waiting = true;
    if (after_failure) {
      setTimeout(() => {
        if (!this.stopped) this.self.tell({ kind: 'tick' });
      }, idle_wait_ms);
      return;
    }
    void readableEndMoved(this.control, this.args.flush_mode, seen_seq, idle_wait_ms).then(() => {
      if (!this.stopped) this.self.tell({ kind: 'tick' });
    });
  }

  /**
   * Makes the index durable (fdatasync off this thread: the flush actor and the queues share
   * it), then follows the CommitLog's retention — after the flush, which must not have a
   * file closed under it. One at a time.
   */
  private async housekeeping(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.index.flushAsync();
    } catch (error) {
      this.context.log.error({ err: error }, 'key index flush failed; retrying at the next housekeeping');
      return;
    }
    if (this.stopped) return;
    const min_offset = this.control.load('min_offset');
    try {
      const removed = this.index.removeBefore(min_offset);
      if (removed > 0) this.context.log.info({ files: removed, min_offset }, 'key index files deleted with the CommitLog segments they indexed');
    } catch (error) {
      // The housekeeping runs outside any message: a failure here must not go unhandled.
      this.context.log.error({ err: error }, 'key index retention failed; retrying at the next housekeeping');
    }
  }
}

export const actor = defineActor<KeyIndexMessage, KeyIndexReply, StoreArgs>({
  name: 'key_index',
  protocol: key_index_protocol,
  create: (context, args) => new KeyIndexActor(context, args),
});
