import { MqError } from '../runtime/errors.js';
import type { Logger } from '../runtime/log.js';
import { DurableFile } from './durable_file.js';
import { readU64, writeU64 } from './record.js';

/**
 * What the timing wheel had delivered when it last checkpointed, in a DurableFile:
 *
 *   0                           8                           16
 *   +---------------------------+---------------------------+
 *   | delivered until, ms (u64) | CommitLog offset (u64)    |
 *   +---------------------------+---------------------------+
 *
 * - every wheel-log entry due at or before `delivered_until_ms` was delivered, and none due
 *   later was (the wheel writes this only between deliveries, with nothing failed pending);
 * - every delivery after the checkpoint was appended at or after `commit_log_offset`, so a
 *   restart finds them by scanning the CommitLog from there (each carries the offset of the
 *   scheduled copy it came from) and does not deliver them twice.
 */
export interface WheelCheckpointState {
  delivered_until_ms: number;
  commit_log_offset: number;
}

const content_version = 1;
const content_bytes = 16;

export class WheelCheckpoint {
  private readonly file: DurableFile;

  constructor(file_path: string, log: Logger) {
    this.file = new DurableFile({ path: file_path, kind: 'WHEL', log });
  }

  /** The last checkpoint, or undefined when the wheel never wrote one. */
  read(): WheelCheckpointState | undefined {
    const read = this.file.read();
    if (read === undefined) return undefined;
    if (read.content_version !== content_version || read.content.length !== content_bytes) {
      throw new MqError('INTERNAL', `timing wheel checkpoint ${this.file.path} has content version ${read.content_version} and ${read.content.length} bytes; this build reads version ${content_version} (${content_bytes} bytes)`);
    }
    return { delivered_until_ms: readU64(read.content, 0), commit_log_offset: readU64(read.content, 8) };
  }

  write(state: WheelCheckpointState): void {
    const content = Buffer.alloc(content_bytes);
    writeU64(content, 0, state.delivered_until_ms);
    writeU64(content, 8, state.commit_log_offset);
    this.file.write(content, content_version);
  }
}
