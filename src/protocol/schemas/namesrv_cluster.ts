/**
 * Nameserver to nameserver: the replicated registry (server/namesrv/cluster/).
 *
 *   candidate --NS_VOTE-->  every peer        "make me leader of `term`; my log ends at (lastTerm, lastSeq)"
 *   leader    --NS_BEAT-->  every follower    "I lead `term`; fetch from `upstream`; reads go to `tail`"
 *   follower  --NS_FETCH--> its upstream      "entries from `fromSeq`; the one before has `prevTerm`"
 *             <-- entries, or a snapshot when the upstream cannot prove the follower's log matches its own
 *   follower  --NS_ACK-->   its upstream      one-way: "`ackedSeq` and everything before is applied
 *                                              here and (chain) on every node behind me"
 *   follower  --NS_FORWARD--> leader          a registry write a broker or admin sent to a follower
 *   anyone    --NS_STATUS-->  any node        role, term, positions; with a snapshot for comparisons
 *
 * Sequence numbers count registry changes from 1 without gaps; `term` is the election term of
 * the leader that made an entry. A log position is (term of its last entry, its last seq).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export interface NsVoteRequest {
  term: number;
  candidate: string;
  lastSeq: number;
  lastTerm: number;
}

export interface NsVoteResponse {
  term: number;
  granted: boolean;
}

export interface NsBeatRequest {
  term: number;
  leader: string;
  /** Where this follower fetches entries: the leader, or its predecessor in a chain. */
  upstream: string;
  /** Who answers strongly consistent reads (chain: the tail; otherwise empty: every node). */
  tail: string;
  /** The chain from head to tail (chain mode), or the leader and its followers. */
  chain: string[];
  commitSeq: number;
}

export interface NsBeatResponse {
  term: number;
  appliedSeq: number;
}

export interface NsFetchRequest {
  term: number;
  follower: string;
  fromSeq: number;
  prevTerm: number;
  /** How long the upstream may hold the request when it has nothing past `fromSeq`. */
  waitMs: number;
}

export interface NsLogEntry {
  seq: number;
  term: number;
  /** The registry command (actors/registry/registry_commands.ts). */
  command: Buffer;
}

export interface NsFetchResponse {
  kind: 'entries' | 'snapshot';
  entries: NsLogEntry[];
  snapshotSeq: number;
  snapshotTerm: number;
  snapshot: Buffer;
}

export interface NsAckRequest {
  term: number;
  follower: string;
  ackedSeq: number;
}

export type NsAckResponse = Record<string, never>;

export interface NsForwardRequest {
  code: number;
  /** The connection the write arrived over, as `<node>/<connection>`: brokers registered
   *  over it are evicted when it closes. */
  connectionId: string;
  body: Buffer;
}

export interface NsForwardResponse {
  body: Buffer;
}

export interface NsStatusRequest {
  withSnapshot: boolean;
}

export interface NsStatus {
  self: string;
  role: string;
  mode: string;
  term: number;
  leader: string;
  lastSeq: number;
  lastTerm: number;
  commitSeq: number;
  chain: string[];
  snapshotsInstalled: number;
  resumedFromSeq: number;
  semiSyncFallbacks: number;
  snapshotSeq: number;
  snapshot: Buffer;
}

const log_entry_schema = {
  type: 'record',
  name: 'NsLogEntry',
  fields: [
    { name: 'seq', type: 'long' },
    { name: 'term', type: 'long' },
    { name: 'command', type: 'bytes' },
  ],
};

/** One log entry on its own: the nameserver's journal frames these (registry_journal.ts). */
export const ns_log_entry_v1 = defineCodec<NsLogEntry>({ protocol_version: 1, schema: log_entry_schema });

export const ns_vote_request_v1 = defineCodec<NsVoteRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsVoteRequest',
    fields: [
      { name: 'term', type: 'long' },
      { name: 'candidate', type: 'string' },
      { name: 'lastSeq', type: 'long' },
      { name: 'lastTerm', type: 'long' },
    ],
  },
});

export const ns_vote_response_v1 = defineCodec<NsVoteResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'NsVoteResponse', fields: [{ name: 'term', type: 'long' }, { name: 'granted', type: 'boolean' }] },
});

export const ns_beat_request_v1 = defineCodec<NsBeatRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsBeatRequest',
    fields: [
      { name: 'term', type: 'long' },
      { name: 'leader', type: 'string' },
      { name: 'upstream', type: 'string' },
      { name: 'tail', type: 'string' },
      { name: 'chain', type: { type: 'array', items: 'string' } },
      { name: 'commitSeq', type: 'long' },
    ],
  },
});

export const ns_beat_response_v1 = defineCodec<NsBeatResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'NsBeatResponse', fields: [{ name: 'term', type: 'long' }, { name: 'appliedSeq', type: 'long' }] },
});

export const ns_fetch_request_v1 = defineCodec<NsFetchRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsFetchRequest',
    fields: [
      { name: 'term', type: 'long' },
      { name: 'follower', type: 'string' },
      { name: 'fromSeq', type: 'long' },
      { name: 'prevTerm', type: 'long' },
      { name: 'waitMs', type: 'int' },
    ],
  },
});

export const ns_fetch_response_v1 = defineCodec<NsFetchResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsFetchResponse',
    fields: [
      { name: 'kind', type: { type: 'enum', name: 'NsFetchKind', symbols: ['entries', 'snapshot'] } },
      { name: 'entries', type: { type: 'array', items: log_entry_schema } },
      { name: 'snapshotSeq', type: 'long' },
      { name: 'snapshotTerm', type: 'long' },
      { name: 'snapshot', type: 'bytes' },
    ],
  },
});

export const ns_ack_request_v1 = defineCodec<NsAckRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsAckRequest',
    fields: [
      { name: 'term', type: 'long' },
      { name: 'follower', type: 'string' },
      { name: 'ackedSeq', type: 'long' },
    ],
  },
});

export const ns_ack_response_v1 = defineCodec<NsAckResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'NsAckResponse', fields: [] },
});

export const ns_forward_request_v1 = defineCodec<NsForwardRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsForwardRequest',
    fields: [
      { name: 'code', type: 'int' },
      { name: 'connectionId', type: 'string' },
      { name: 'body', type: 'bytes' },
    ],
  },
});

export const ns_forward_response_v1 = defineCodec<NsForwardResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'NsForwardResponse', fields: [{ name: 'body', type: 'bytes' }] },
});

export const ns_status_request_v1 = defineCodec<NsStatusRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'NsStatusRequest', fields: [{ name: 'withSnapshot', type: 'boolean' }] },
});

export const ns_status_v1 = defineCodec<NsStatus>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'NsStatus',
    fields: [
      { name: 'self', type: 'string' },
      { name: 'role', type: 'string' },
      { name: 'mode', type: 'string' },
      { name: 'term', type: 'long' },
      { name: 'leader', type: 'string' },
      { name: 'lastSeq', type: 'long' },
      { name: 'lastTerm', type: 'long' },
      { name: 'commitSeq', type: 'long' },
      { name: 'chain', type: { type: 'array', items: 'string' } },
      { name: 'snapshotsInstalled', type: 'long' },
      { name: 'resumedFromSeq', type: 'long' },
      { name: 'semiSyncFallbacks', type: 'long' },
      { name: 'snapshotSeq', type: 'long' },
      { name: 'snapshot', type: 'bytes' },
    ],
  },
});

export const encodeNsLogEntry = (value: NsLogEntry): Buffer => ns_log_entry_v1.encode(value);
export const decodeNsLogEntry = (bytes: Uint8Array): Result<NsLogEntry> => ns_log_entry_v1.decode(bytes);
export const encodeNsVoteRequest = (value: NsVoteRequest): Buffer => ns_vote_request_v1.encode(value);
export const decodeNsVoteRequest = (bytes: Uint8Array): Result<NsVoteRequest> => ns_vote_request_v1.decode(bytes);
export const encodeNsVoteResponse = (value: NsVoteResponse): Buffer => ns_vote_response_v1.encode(value);
export const decodeNsVoteResponse = (bytes: Uint8Array): Result<NsVoteResponse> => ns_vote_response_v1.decode(bytes);
export const encodeNsBeatRequest = (value: NsBeatRequest): Buffer => ns_beat_request_v1.encode(value);
export const decodeNsBeatRequest = (bytes: Uint8Array): Result<NsBeatRequest> => ns_beat_request_v1.decode(bytes);
export const encodeNsBeatResponse = (value: NsBeatResponse): Buffer => ns_beat_response_v1.encode(value);
export const decodeNsBeatResponse = (bytes: Uint8Array): Result<NsBeatResponse> => ns_beat_response_v1.decode(bytes);
export const encodeNsFetchRequest = (value: NsFetchRequest): Buffer => ns_fetch_request_v1.encode(value);
export const decodeNsFetchRequest = (bytes: Uint8Array): Result<NsFetchRequest> => ns_fetch_request_v1.decode(bytes);
export const encodeNsFetchResponse = (value: NsFetchResponse): Buffer => ns_fetch_response_v1.encode(value);
export const decodeNsFetchResponse = (bytes: Uint8Array): Result<NsFetchResponse> => ns_fetch_response_v1.decode(bytes);
export const encodeNsAckRequest = (value: NsAckRequest): Buffer => ns_ack_request_v1.encode(value);
export const decodeNsAckRequest = (bytes: Uint8Array): Result<NsAckRequest> => ns_ack_request_v1.decode(bytes);
export const encodeNsAckResponse = (value: NsAckResponse): Buffer => ns_ack_response_v1.encode(value);
export const encodeNsForwardRequest = (value: NsForwardRequest): Buffer => ns_forward_request_v1.encode(value);
export const decodeNsForwardRequest = (bytes: Uint8Array): Result<NsForwardRequest> => ns_forward_request_v1.decode(bytes);
export const encodeNsForwardResponse = (value: NsForwardResponse): Buffer => ns_forward_response_v1.encode(value);
export const decodeNsForwardResponse = (bytes: Uint8Array): Result<NsForwardResponse> => ns_forward_response_v1.decode(bytes);
export const encodeNsStatusRequest = (value: NsStatusRequest): Buffer => ns_status_request_v1.encode(value);
export const decodeNsStatusRequest = (bytes: Uint8Array): Result<NsStatusRequest> => ns_status_request_v1.decode(bytes);
export const encodeNsStatus = (value: NsStatus): Buffer => ns_status_v1.encode(value);
export const decodeNsStatus = (bytes: Uint8Array): Result<NsStatus> => ns_status_v1.decode(bytes);
