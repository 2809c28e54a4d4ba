/**
 * Stateless CPU work run on the Piscina pool's threads (not on actor threads, so a long
 * checksum never delays a mailbox). One named task type per operation.
 */
import { crc32 } from 'node:zlib';
import { assertNever } from './assert.js';

export type CpuTask = { op: 'crc32'; data: Uint8Array; initial?: number };

export default function runCpuTask(task: CpuTask): number {
  switch (task.op) {
    case 'crc32':
      return crc32(task.data, task.initial ?? 0);
    default:
      return assertNever(task.op, 'cpu task');
  }
}
