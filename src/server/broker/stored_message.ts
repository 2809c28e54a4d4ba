import { crc32 } from 'node:zlib';
import type { StoredMessage } from '../../protocol/index.js';
import type { RecordView } from '../../storage/record.js';
import { decodeMessageProperties } from '../../storage/message_properties.js';
import { encodeMessageId, numberToIpv4 } from '../../storage/message_id.js';

/**
 * A stored record as the protocol sends it to consumers. The body stays a view into the
 * mapped CommitLog here; encoding the response copies it once, into the frame.
 */
export function storedMessageOf(record: RecordView): StoredMessage {
  const properties = decodeMessageProperties(record.properties);
  const store_host = record.store_host;
  const born_host = record.born_host;
  const body = record.body;
  return {
    msgId: encodeMessageId({ store_timestamp: record.store_timestamp, store_ipv4: store_host.ipv4, store_port: store_host.port, commit_log_offset: record.physical_offset }),
    topic: record.topic,
    queueId: record.queue_id,
    queueOffset: record.queue_offset,
    commitLogOffset: record.physical_offset,
    tag: properties.tag,
    keys: properties.keys,
    properties: properties.properties,
    bornTimestamp: record.born_timestamp,
    bornHost: `${numberToIpv4(born_host.ipv4)}:${born_host.port}`,
    storeTimestamp: record.store_timestamp,
    storeHost: `${numberToIpv4(store_host.ipv4)}:${store_host.port}`,
    reconsumeTimes: record.reconsume_times,
    flags: record.flags,
    bodyCrc32: crc32(body),
    body,
  };
}
