import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

/** Values of store control's `ha_role` slot. */
export const ha_roles = { master: 0, slave: 1 } as const;

export type ReplicatorMessage =
  /** Opens the HA port (port 0: any free one); answered with the bound port in `ha_port`. */
  | { kind: 'listen'; host: string; port: number }
  /** Become (or stay) a slave replicating from the master at `master` (HA `host:port`; ''
   *  for none yet), as broker `slave_id` (the id it registers under, which its HA hello
   *  names: a configured master that stepped down has another than --broker-id): stops
   *  taking appends and serving slaves. */
  | { kind: 'follow'; master: string; slave_id: number }
  /** Become the master at `epoch` (promoted, or confirmed at start): starts a new epoch at
   *  this log's end when `epoch` is newer than the log's last. */
  | { kind: 'lead'; epoch: number }
  /** The store was cut to `truncate_to` as asked: follow again. */
  | { kind: 'truncated' }
  /** From its own timer: keep-alives, timeouts, reconnects. */
  | { kind: 'tick' }
  | { kind: 'status' };

/** One reply type for every message (fields that do not apply are zero or empty). */
export interface ReplicatorStatus {
  role: 'master' | 'slave';
  /** The bound HA port, 0 before `listen`. */
  ha_port: number;
  /** Master: slaves connected (handshake done), and those within the in-sync gap. */
  slaves: number;
  slaves_in_sync: number;
  /** Master: the CommitLog end that `replication_acks` slaves hold. */
  replicated_offset: number;
  /** Slave: the master it follows ('' when none), whether the link is up, and this log's end. */
  following: string;
  connected: boolean;
  write_offset: number;
  /** The last master epoch this log knows. */
  epoch: number;
  /** Master: the broker ids of the slaves in sync. */
  in_sync_slaves: number[];
  /** Slave: the offset this log must be cut to before it can follow (-1: none). */
  truncate_to: number;
}

export const replicator_protocol = defineProtocol<ReplicatorMessage, ReplicatorStatus>(
  'store.replicator',
  {
    listen: [
      { name: 'host', type: 'string' },
      { name: 'port', type: 'int' },
    ],
    follow: [
      { name: 'master', type: 'string' },
      { name: 'slave_id', type: 'int' },
    ],
    lead: [{ name: 'epoch', type: 'long' }],
    truncated: [],
    tick: [],
    status: [],
  },
  avroCodec<ReplicatorStatus>({
    type: 'record',
    name: 'ReplicatorStatus',
    fields: [
      { name: 'role', type: { type: 'enum', name: 'HaRole', symbols: ['master', 'slave'] } },
      { name: 'ha_port', type: 'int' },
      { name: 'slaves', type: 'int' },
      { name: 'slaves_in_sync', type: 'int' },
      { name: 'replicated_offset', type: 'long' },
      { name: 'following', type: 'string' },
      { name: 'connected', type: 'boolean' },
      { name: 'write_offset', type: 'long' },
      { name: 'epoch', type: 'long' },
      { name: 'in_sync_slaves', type: { type: 'array', items: 'long' } },
      { name: 'truncate_to', type: 'long' },
    ],
  }),
);

export const replicator_address = 'store/replicator';
export const replicator_module_url = new URL('./replicator_actor.js', import.meta.url).href;
