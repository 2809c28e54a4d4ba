/**
 * The body of a bench message: a stamp that lets a consumer (in this process or another one
 * on the same host) measure end-to-end latency and tell runs and duplicates apart, then
 * filler up to the requested size.
 *
 *    0                8         12        16        20                     size
 *   +----------------+---------+---------+---------+----------------------+
 *   | sent_us f64 LE | magic   | run_id  | seq     | filler 0x78 ('x')    |
 *   |                | u32 LE  | u32 LE  | u32 LE  |                      |
 *   +----------------+---------+---------+---------+----------------------+
 *
 * sent_us is wall-clock microseconds from BenchClock (performance.timeOrigin + now(), so
 * differences within one process are monotonic). A body shorter than the stamp carries
 * none: its messages are counted, but give no latency and no duplicate check.
 */

export const stamp_magic = 0x6d71_6231; // 'mqb1'
export const stamp_bytes = 20;
const filler_byte = 0x78;

const sent_us_at = 0;
const magic_at = 8;
const run_id_at = 12;
const seq_at = 16;

export interface Stamp {
  sent_us: number;
  run_id: number;
  seq: number;
}

/** Microseconds on one time line for every process of the host (see the layout above). */
export interface BenchClock {
  nowUs(): number;
}

export const system_bench_clock: BenchClock = {
  nowUs: () => (performance.timeOrigin + performance.now()) * 1_000,
};

/** Builds bodies of one size; each body is a fresh buffer (the SDK may still hold earlier ones). */
export class PayloadWriter {
  private readonly template: Buffer;

  constructor(
    readonly size_bytes: number,
    readonly run_id: number,
  ) {
    this.template = Buffer.alloc(size_bytes, filler_byte);
  }

  /** A body stamped with `seq` and the time now; copies the template (size_bytes bytes). */
  body(seq: number, sent_us: number): Buffer {
    const body = Buffer.allocUnsafe(this.size_bytes);
    this.template.copy(body);
    if (this.size_bytes >= stamp_bytes) {
      body.writeDoubleLE(sent_us, sent_us_at);
      body.writeUInt32LE(stamp_magic, magic_at);
      body.writeUInt32LE(this.run_id >>> 0, run_id_at);
      body.writeUInt32LE(seq >>> 0, seq_at);
    }
    return body;
  }
}

/** The stamp of a body, or undefined for a body without one (another producer, or too short). */
export function readStamp(body: Uint8Array): Stamp | undefined {
  if (body.byteLength < stamp_bytes) return undefined;
  const view = new DataView(body.buffer, body.byteOffset, stamp_bytes);
  if (view.getUint32(magic_at, true) !== stamp_magic) return undefined;
  const sent_us = view.getFloat64(sent_us_at, true);
  if (!Number.isFinite(sent_us)) return undefined;
  return { sent_us, run_id: view.getUint32(run_id_at, true), seq: view.getUint32(seq_at, true) };
}

/** A run id that differs between runs (random, never 0 so a zeroed body is not a run). */
export function newRunId(random: () => number = Math.random): number {
  return 1 + Math.floor(random() * 0xffff_fffe);
}
