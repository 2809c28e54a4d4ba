import { body_bytes_max, type SendRequest } from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';

export const batch_limits = {
  /** Messages in one SEND_BATCH (the broker's send_limits.batch_messages_max). */
  messages_max: 1_024,
  /**
   * Body, property, key and tag bytes of one batch together: one maximal message's worth,
   * so that a batch always fits the frame a broker accepts (limits.ts, frame_bytes_max).
   */
  payload_bytes_max: body_bytes_max,
} as const;

/**
 * Checks a batch of already-checked messages as a whole: one topic, 1..1024 messages, and
 * a payload that fits one frame. A batch goes to one queue in one request, so it is stored
 * whole (or not at all) and its messages keep their order in that queue.
 */
export function checkBatch(requests: readonly SendRequest[]): void {
  if (requests.length === 0 || requests.length > batch_limits.messages_max) {
    throw new MqError('BAD_REQUEST', `a batch holds 1..${batch_limits.messages_max} messages, not ${requests.length}; split it`);
  }
  const topic = (requests[0] as SendRequest).topic;
  let payload_bytes = 0;
  for (const request of requests) {
    if (request.topic !== topic) {
      throw new MqError('BAD_REQUEST', `a batch goes to one topic: it mixes '${topic}' and '${request.topic}'; send one batch per topic`);
    }
    payload_bytes += request.body.byteLength + (request.tag?.length ?? 0) * 3;
    for (const key of request.keys) payload_bytes += Buffer.byteLength(key) + 1;
    for (const [name, value] of Object.entries(request.properties)) payload_bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  }
  if (payload_bytes > batch_limits.payload_bytes_max) {
    throw new MqError('MESSAGE_TOO_LARGE', `the batch carries ${payload_bytes} bytes, more than ${batch_limits.payload_bytes_max}; split it into smaller batches`);
  }
}
