import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type TimingWheelMessage =
  /** From its own timer: read newly scheduled messages, deliver those due. */
  | { kind: 'tick' }
  | { kind: 'status' };

export interface TimingWheelStatus {
  /** Scheduled messages waiting in the wheel. */
  scheduled: number;
  /** Delivered since this actor started. */
  delivered: number;
  /** The schedule queue's offset read next (= entries in the wheel log). */
  read_queue_offset: number;
  /** The wheel's time: every message due at or before it was delivered or is being delivered. */
  current_ms: number;
  /** Due messages whose delivery failed and is retried each tick (the store refused them). */
  failed: number;
  /** The CommitLog offset retention must keep (the oldest undelivered scheduled message). */
  retention_floor: number;
}

export const timing_wheel_protocol = defineProtocol<TimingWheelMessage, TimingWheelStatus>(
  'store.timing_wheel',
  { tick: [], status: [] },
  avroCodec<TimingWheelStatus>({
    type: 'record',
    name: 'TimingWheelStatus',
    fields: [
      { name: 'scheduled', type: 'long' },
      { name: 'delivered', type: 'long' },
      { name: 'read_queue_offset', type: 'long' },
      { name: 'current_ms', type: 'long' },
      { name: 'failed', type: 'long' },
      { name: 'retention_floor', type: 'long' },
    ],
  }),
);

export const timing_wheel_address = 'store/timing_wheel';
export const timing_wheel_module_url = new URL('./timing_wheel_actor.js', import.meta.url).href;
