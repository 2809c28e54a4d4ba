import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type SegmentAllocatorMessage =
  /** Create, size and warm the CommitLog segment that starts there. */
  | { kind: 'prepare'; start_offset: number }
  /** Internal: warm the next chunk of the segment being prepared. */
  | { kind: 'continue' };

export const segment_allocator_protocol = defineProtocol<SegmentAllocatorMessage, number>(
  'store.segment_allocator',
  { prepare: [{ name: 'start_offset', type: 'long' }], continue: [] },
  avroCodec<number>('long'),
);

export const segment_allocator_address = 'store/segment_allocator';
export const segment_allocator_module_url = new URL('./segment_allocator_actor.js', import.meta.url).href;
