import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type TransactionMessage =
  /** From its own timer: read new half messages, checkpoint, publish the retention floor. */
  | { kind: 'tick' }
  /** A producer's outcome for a half message (END_TRANSACTION). */
  | { kind: 'end'; half_offset: number; outcome: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN' }
  /** The half messages to check back now (at most `max`); those checked too often are rolled back. */
  | { kind: 'due_checks'; max: number }
  | { kind: 'status' };

export interface DueCheck {
  half_offset: number;
  producer_group: string;
  check_times: number;
}

/** One reply type for every message (unused fields zero or empty). */
export interface TransactionReply {
  /** 'end': COMMITTED, ROLLED_BACK, UNDECIDED or ALREADY_DECIDED. */
  result: string;
  checks: DueCheck[];
  undecided: number;
  committed: number;
  rolled_back: number;
  read_queue_offset: number;
}

export const transaction_protocol = defineProtocol<TransactionMessage, TransactionReply>(
  'store.transaction',
  {
    tick: [],
    end: [
      { name: 'half_offset', type: 'long' },
      { name: 'outcome', type: { type: 'enum', name: 'TransactionOutcomeMessage', symbols: ['COMMIT', 'ROLLBACK', 'UNKNOWN'] } },
    ],
    due_checks: [{ name: 'max', type: 'int' }],
    status: [],
  },
  avroCodec<TransactionReply>({
    type: 'record',
    name: 'TransactionReply',
    fields: [
      { name: 'result', type: 'string' },
      {
        name: 'checks',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'DueCheck',
            fields: [
              { name: 'half_offset', type: 'long' },
              { name: 'producer_group', type: 'string' },
              { name: 'check_times', type: 'int' },
            ],
          },
        },
      },
      { name: 'undecided', type: 'long' },
      { name: 'committed', type: 'long' },
      { name: 'rolled_back', type: 'long' },
      { name: 'read_queue_offset', type: 'long' },
    ],
  }),
);

export const transaction_address = 'store/transaction';
export const transaction_module_url = new URL('./transaction_actor.js', import.meta.url).href;
