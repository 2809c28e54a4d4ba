import t from 'tap';
import { deliveredRecordOf, scheduledRecordOf, scheduleOffsetOf } from '../../src/actors/timing_wheel/scheduled_record.js';
import { WheelLogSegments } from '../../src/actors/timing_wheel/wheel_log_segments.js';
import { schedule_topic, system_properties } from '../../src/protocol/index.js';
import { decodeMessageProperties } from '../../src/storage/message_properties.js';
import { encodeMessageId } from '../../src/storage/message_id.js';
import { record_sys_flags, RecordView, writeRecord, type RecordInput } from '../../src/storage/record.js';
import { tagHash } from '../../src/storage/tag_hash.js';
import { record } from './store_helpers.js';

/** The scheduled-copy rewrites and the wheel log's segment accounting: pure pieces. */

const store_host = { ipv4: 0x0a000005, port: 10911 };

/** `input` as the writer would store it at `physical_offset`. */
function stored(input: RecordInput, physical_offset: number, store_timestamp = 1_795_000_000_000): RecordView {
  const target = Buffer.alloc(64 * 1024);
  writeRecord(target, 0, input, Buffer.from(input.topic, 'latin1'), { queue_offset: 7, physical_offset, store_timestamp, store_host });
  return new RecordView(target, 0);
}

t.test('a scheduled copy goes to the schedule queue with its destination and due time, and delivers back whole', async (t) => {
  const message = { tag: 'paid', keys: ['order-1', 'customer-9'], properties: { region: 'eu', trace: 'abc' } };
  const original = { ...record('Orders', 3, Buffer.from('body bytes')), flags: 5, reconsume_times: 2, born_timestamp: 1_700_000_000_123 };
  const due_ms = 1_795_000_060_000;
  const copy = scheduledRecordOf(original, message, due_ms);
  t.match(copy, { topic: schedule_topic, queue_id: 0, tag_hash: due_ms, flags: 5, reconsume_times: 2, born_timestamp: 1_700_000_000_123 });
  const copy_properties = decodeMessageProperties(copy.properties);
  t.same(copy_properties.properties, { region: 'eu', trace: 'abc', REAL_TOPIC: 'Orders', REAL_QID: '3', DELIVER_AT_MS: String(due_ms) });
  t.equal(copy_properties.tag, 'paid');
  t.same(copy_properties.keys, ['order-1', 'customer-9']);

  const scheduled_view = stored(copy, 4_096);
  const delivered = deliveredRecordOf(scheduled_view);
  t.match(delivered, { topic: 'Orders', queue_id: 3, tag_hash: tagHash('paid'), flags: 5, reconsume_times: 2, born_timestamp: 1_700_000_000_123 });
  t.ok(Buffer.from(delivered.body).equals(Buffer.from('body bytes')), 'same body');
  t.equal(delivered.sys_flags & record_sys_flags.delivered_from_schedule, record_sys_flags.delivered_from_schedule, 'marked as a delivery');
  const delivered_properties = decodeMessageProperties(delivered.properties);
  t.same(delivered_properties.properties, {
    region: 'eu',
    trace: 'abc',
    DELIVER_AT_MS: String(due_ms),
    ORIGIN_MESSAGE_ID: encodeMessageId({ store_timestamp: 1_795_000_000_000, store_ipv4: store_host.ipv4, store_port: store_host.port, commit_log_offset: 4_096 }),
    SCHEDULE_OFFSET: '4096',
  });
  t.equal(scheduleOffsetOf(stored(delivered, 90_000)), 4_096, 'a delivered record names its scheduled copy');
  t.equal(scheduleOffsetOf(scheduled_view), undefined, 'other records name none');
});

t.test('a message that already has an ORIGIN_MESSAGE_ID (a retry) keeps it', async (t) => {
  const message = { tag: null, keys: [], properties: { [system_properties.origin_message_id]: 'FIRST-ID', [system_properties.origin_topic]: 'Orders' } };
  const copy = scheduledRecordOf(record('%RETRY%billing', 0, Buffer.from('x')), message, 1);
  const delivered = decodeMessageProperties(deliveredRecordOf(stored(copy, 0)).properties);
  t.equal(delivered.properties[system_properties.origin_message_id], 'FIRST-ID');
  t.equal(delivered.properties[system_properties.origin_topic], 'Orders');
});

t.test('a scheduled copy without a destination is refused, not delivered somewhere', async (t) => {
  const broken = { ...record(schedule_topic, 0, Buffer.from('x')), properties: Buffer.from('DELIVER_AT_MS\u00011\u0002') };
  t.throws(() => deliveredRecordOf(stored(broken, 0)), { code: 'INTERNAL', message: /no valid REAL_TOPIC/ });
});

t.test('wheel log segments: a segment is reported empty when its last pending entry is delivered', async (t) => {
  const segments = new WheelLogSegments();
  // Segment 0 holds entries at offsets 100, 200; segment 2 at 300, 400, 500.
  segments.note(0, 100);
  segments.note(0, 200);
  segments.note(2, 300);
  for (const offset of [100, 200, 300, 400, 500]) segments.add(offset);
  t.equal(segments.count, 2);
  t.equal(segments.remove(200), undefined);
  t.equal(segments.remove(400), undefined);
  t.equal(segments.remove(100), 0, 'segment 0 emptied');
  segments.forget(0);
  t.same(segments.empty(), []);
  t.equal(segments.remove(300), undefined);
  t.equal(segments.remove(500), 2, 'segment 2 emptied');
  t.same(segments.empty(), [2]);
  t.throws(() => segments.remove(500), /no pending entry/, 'a second delivery of one entry is a bug');
  t.throws(() => segments.note(1, 600), /out of order/);
});
