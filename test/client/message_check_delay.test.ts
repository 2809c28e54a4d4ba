import t from 'tap';
import { delivery_delay_ms_max, sendRequestOf, type SendContext } from '../../src/client/message_check.js';
import type { Message } from '../../src/client/message.js';

/**
 * The client's checks of delayed delivery: a whole number of ms >= 0, at most 40 days (from
 * the send's own clock for deliverAt), not both fields; every refusal a BAD_REQUEST naming
 * the field, before any network round trip.
 */

const now_ms = 1_700_000_000_000;
const context: SendContext = { producer_group: null, born_host: '127.0.0.1:1', born_timestamp_ms: now_ms };
const day_ms = 24 * 3_600_000;

function request(fields: Partial<Message>) {
  return sendRequestOf({ topic: 'T', body: 'x', ...fields }, context);
}

t.test('the limit is 40 days, named and exported', async (t) => {
  t.equal(delivery_delay_ms_max, 40 * day_ms);
});

t.test('accepted delays reach the wire unchanged', async (t) => {
  t.match(request({}), { delayMs: null, deliverAtMs: null });
  t.match(request({ delayMs: 0 }), { delayMs: 0, deliverAtMs: null });
  t.match(request({ delayMs: delivery_delay_ms_max }), { delayMs: delivery_delay_ms_max }, 'exactly the maximum');
  t.match(request({ deliverAt: now_ms + delivery_delay_ms_max }), { delayMs: null, deliverAtMs: now_ms + delivery_delay_ms_max }, 'deliverAt exactly 40 days ahead');
  t.match(request({ deliverAt: new Date(now_ms + day_ms) }), { deliverAtMs: now_ms + day_ms }, 'a Date');
  t.match(request({ deliverAt: now_ms - day_ms }), { deliverAtMs: now_ms - day_ms }, 'a time in the past means now (the broker delivers it at once)');
});

t.test('refused: BAD_REQUEST naming the field', async (t) => {
  const cases: Array<[string, Partial<Message>, RegExp]> = [
    ['delay over the maximum', { delayMs: delivery_delay_ms_max + 1 }, /delayMs .*maximum delay/],
    ['a year', { delayMs: 365 * day_ms }, /delayMs/],
    ['deliverAt over 40 days ahead', { deliverAt: now_ms + delivery_delay_ms_max + 1 }, /deliverAt .*maximum delay .*ahead of now/],
    ['deliverAt Date over 40 days ahead', { deliverAt: new Date(now_ms + 41 * day_ms) }, /deliverAt/],
    ['deliverAt beyond what a Date can show', { deliverAt: Number.MAX_SAFE_INTEGER }, /deliverAt .*ms since the epoch/],
    ['NaN delay', { delayMs: Number.NaN }, /delayMs is a whole number/],
    ['infinite delay', { delayMs: Number.POSITIVE_INFINITY }, /delayMs is a whole number/],
    ['negative delay', { delayMs: -1 }, /delayMs is a whole number/],
    ['fractional delay', { delayMs: 1.5 }, /delayMs is a whole number/],
    ['delay as a string', { delayMs: '100' as unknown as number }, /delayMs is a whole number/],
    ['NaN deliverAt', { deliverAt: Number.NaN }, /deliverAt/],
    ['invalid Date', { deliverAt: new Date('not a date') }, /deliverAt/],
    ['negative deliverAt', { deliverAt: -1 }, /deliverAt/],
    ['fractional deliverAt', { deliverAt: now_ms + 0.5 }, /deliverAt/],
    ['both', { delayMs: 1, deliverAt: now_ms }, /delayMs or deliverAt, not both/],
  ];
  for (const [name, fields, message] of cases) {
    t.throws(() => request(fields), { name: 'MqError', code: 'BAD_REQUEST', message }, name);
  }
});
