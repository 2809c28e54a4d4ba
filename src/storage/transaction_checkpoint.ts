import { MqError } from '../runtime/errors.js';
import type { Logger } from '../runtime/log.js';
import { DurableFile } from './durable_file.js';
import { readU64, writeU64 } from './record.js';

/**
 * What the transaction actor knew when it last checkpointed, in a DurableFile:
 *
 *   0                          8                          16          20
 *   +--------------------------+--------------------------+-----------+------------------------+
 *   | half queue offset (u64)  | CommitLog offset (u64)   | count u32 | count × entry          |
 *   +--------------------------+--------------------------+-----------+------------------------+
 *   entry (12 bytes): half message's CommitLog offset (u64), checks so far (u32)
 *
 * - every half message below `half_queue_offset` in the half queue was read: it is decided,
 *   or listed as an entry (undecided then);
 * - every decision after the checkpoint was appended at or after `commit_log_offset`, so a
 *   restart finds them by scanning the CommitLog from there.
 */
export interface TransactionCheckpointState {
  half_queue_offset: number;
  commit_log_offset: number;
  undecided: Array<{ offset: number; checks: number }>;
}

const content_version = 1;
const header_bytes = 20;
const entry_bytes = 12;

export class TransactionCheckpoint {
  private readonly file: DurableFile;

  constructor(file_path: string, log: Logger) {
    this.file = new DurableFile({ path: file_path, kind: 'TXCK', log });
  }

  read(): TransactionCheckpointState | undefined {
    const read = this.file.read();
    if (read === undefined) return undefined;
    const content = read.content;
    const count = content.length >= header_bytes ? content.readUInt32LE(16) : -1;
    if (read.content_version !== content_version || content.length !== header_bytes + count * entry_bytes) {
      throw new MqError('INTERNAL', `transaction checkpoint ${this.file.path}: content version ${read.content_version}, ${content.length} bytes; this build reads version ${content_version} with ${header_bytes} + 12 × entries bytes`);
    }
    const undecided: TransactionCheckpointState['undecided'] = [];
    for (let index = 0; index < count; index++) {
      const at = header_bytes + index * entry_bytes;
      undecided.push({ offset: readU64(content, at), checks: content.readUInt32LE(at + 8) });
    }
    return { half_queue_offset: readU64(content, 0), commit_log_offset: readU64(content, 8), undecided };
  }

  write(state: TransactionCheckpointState): void {
    const content = Buffer.alloc(header_bytes + state.undecided.length * entry_bytes);
    writeU64(content, 0, state.half_queue_offset);
    writeU64(content, 8, state.commit_log_offset);
    content.writeUInt32LE(state.undecided.length, 16);
    state.undecided.forEach((entry, index) => {
      const at = header_bytes + index * entry_bytes;
      writeU64(content, at, entry.offset);
      content.writeUInt32LE(entry.checks, at + 8);
    });
    this.file.write(content, content_version);
  }
}
