import type { RecordInput } from '../../src/storage/record.js';
import { Store } from '../../src/actors/store/store.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { CpuMeter, mainThreadId, type CpuUse } from './store_cpu.js';
import { thread_probe_module_url, thread_probe_protocol, threadProbeAddress } from './store_thread_probe_messages.js';
import { nowMs } from './timing.js';
import { LatencyRecorder, type LatencySummary } from './store_latency.js';
import { megabytesPerSecond, round, withTempDir } from './store_files.js';
import { recordInput, log_record_bytes } from './store_records.js';

/** Actor threads of the system under test: the CommitLog writer on 1, flush, allocator,
 *  dispatch, ConsumeQueues and offsets on 2 (the Store's default placement). */
export const actor_threads = 2;
const writer_address = 'store/commit_log';
const flush_address = 'store/flush';

export interface ActorCaseSpec {
  flush_mode: 'async' | 'sync';
  batch_records: number;
  /** Appends in flight at once: each of these writers awaits its own ask before the next. */
  writers: number;
}

export interface ActorBudget {
  segment_bytes: number;
  warmup_ms: number;
  duration_ms: number;
  records_max: number;
}

export interface ActorResult {
  name: string;
  flush_mode: 'async' | 'sync';
  batch_records: number;
  writers: number;
  records: number;
  elapsed_ms: number;
  records_per_s: number;
  /** CommitLog bytes per second, 10^6. */
  mb_per_s: number;
  /** Of the ask (send to reply, on the main thread), per batch. */
  latency: LatencySummary;
  /** Appends answered with anything but PUT_OK (e.g. FLUSH_DISK_TIMEOUT). */
  not_ok: number;
  /** Messages the writer handled per append: 1 + the flush actor's `flushed` notes. */
  writer_messages_per_append: number;
  /** Messages the flush actor handled (sync: one `flush` tell per append; async: hints). */
  flush_messages: number;
  /** Sync: flushes that completed (each one fdatasync round), from the writer's count. */
  flushes: number;
  /** Sync: appends acknowledged per flush — the group-commit factor. */
  appends_per_flush: number | null;
  /** Threads: main (the producer loops), writer (thread 1), service (thread 2). */
  cpu: CpuUse;
  /** CPU time of the writer's thread per record: what one record costs it, whatever the load. */
  writer_cpu_us_per_record: number | null;
}

/** Kernel thread ids of the main thread and of each actor thread, for CpuMeter. */
async function threadIds(system: ActorSystem): Promise<Map<string, number>> {
  const ids = new Map<string, number>([['main', mainThreadId()]]);
  const names = ['writer', 'service'];
  for (let thread = 1; thread <= actor_threads; thread++) {
    const probe = await system.spawn({ address: threadProbeAddress(thread), module: thread_probe_module_url, protocol: thread_probe_protocol, thread });
    ids.set(names[thread - 1] ?? `thread ${thread}`, await probe.ask({ kind: 'tid' }));
  }
  return ids;
}

async function handledByActor(system: ActorSystem): Promise<Map<string, number>> {
  return new Map((await system.listActors()).map((actor) => [actor.address, actor.handled]));
}

/**
 * `writers` concurrent loops on the main thread, each sending one append ask of
 * `batch_records` records and awaiting its reply before the next, until the deadline or the
 * record budget. Returns the appends and records completed.
 */
async function drive(store: Store, spec: ActorCaseSpec, deadline_ms: number, records_max: number, latency: LatencyRecorder | undefined): Promise<{ appends: number; records: number; not_ok: number }> {
  let records_started = 0;
  let records = 0;
  let appends = 0;
  let not_ok = 0;
  const writer = async (first_index: number) => {
    // The ask encodes the records into the outbox at once, so one array per writer suffices.
    const batch: RecordInput[] = Array.from({ length: spec.batch_records }, (_, index) => recordInput(first_index + index));
    while (records_started < records_max && nowMs() < deadline_ms) {
      records_started += spec.batch_records;
      const started_ms = nowMs();
      const reply = await store.append(batch);
      latency?.record(nowMs() - started_ms);
      if (reply.status !== 'PUT_OK') not_ok++;
      appends++;
      records += spec.batch_records;
    }
  };
  await Promise.all(Array.from({ length: spec.writers }, (_, index) => writer(index)));
  return { appends, records, not_ok };
}

/**
 * The Store through its actors, from the main thread, on a fresh data dir and actor system.
 * Hops of one append: main → writer thread (the ask) → main (the reply); under sync flush the
 * writer also tells the flush actor (thread 2), which runs fdatasync on libuv's pool and
 * tells the writer back before the writer replies.
 */
export async function measureActors(spec: ActorCaseSpec, budget: ActorBudget): Promise<ActorResult> {
  return withTempDir('actors', async (data_dir) => {
    const system = await ActorSystem.start({ threads: actor_threads });
    let store: Store | undefined;
    const latency = new LatencyRecorder();
    try {
      store = await Store.open(system, { data_dir, flush_mode: spec.flush_mode, commit_log_segment_bytes: budget.segment_bytes, preallocate: true });
      // Untimed first: the JIT compiles the path, the allocator prepares the next segment.
      await drive(store, spec, nowMs() + budget.warmup_ms, budget.records_max, undefined);
      const cpu = new CpuMeter(await threadIds(system));
      const before = await handledByActor(system);
      cpu.start();
      const started_ms = nowMs();
      const done = await drive(store, spec, started_ms + budget.duration_ms, budget.records_max, latency);
      const elapsed_ms = nowMs() - started_ms;
      const cpu_use = cpu.stop();
      const after = await handledByActor(system);
      const delta = (address: string) => (after.get(address) ?? 0) - (before.get(address) ?? 0);
      // The two listActors calls each cost the writer nothing but a stats read (control port).
      const writer_messages = delta(writer_address);
      const flushes = Math.max(0, writer_messages - done.appends);
      const writer_run = cpu_use.threads['writer'];
      const writers = spec.writers === 1 ? '1 writer' : `${spec.writers} writers`;
      return {
        name: `${spec.flush_mode} flush, batch of ${spec.batch_records}, ${writers}`,
        flush_mode: spec.flush_mode,
        batch_records: spec.batch_records,
        writers: spec.writers,
        records: done.records,
        elapsed_ms: round(elapsed_ms, 1),
        records_per_s: Math.round((done.records * 1_000) / elapsed_ms),
        mb_per_s: round(megabytesPerSecond(done.records * log_record_bytes, elapsed_ms), 1),
        latency: latency.summary(),
        not_ok: done.not_ok,
        writer_messages_per_append: done.appends > 0 ? round(writer_messages / done.appends, 3) : 0,
        flush_messages: delta(flush_address),
        flushes,
        appends_per_flush: spec.flush_mode === 'sync' && flushes > 0 ? round(done.appends / flushes, 1) : null,
        cpu: cpu_use,
        writer_cpu_us_per_record: writer_run === undefined || done.records === 0 ? null : round((writer_run.run_ratio * elapsed_ms * 1_000) / done.records, 2),
      };
    } finally {
      latency.destroy();
      await store?.close().catch((error: unknown) => process.stderr.write(`store bench: closing the store failed: ${String(error)}\n`));
      await system.stop();
    }
  });
}
