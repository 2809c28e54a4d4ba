/**
 * The wire protocol: frames, envelopes, request codes, versioned Avro schemas and the
 * checks around them. Pure (bytes in, values out); imports nothing else of the project.
 *
 * Receiving, in order: `FrameDecoder.push(chunk)` -> envelopes; the first must be HELLO
 * (`decodeHello`, `acceptHello`); then `apiCodecs(envelope.code, version)` gives the codec
 * of the request body; every decode returns a `Result` and never throws.
 */
export * from './limits.js';
export * from './protocol_error.js';
export * from './codes.js';
export * from './envelope.js';
export * from './frame_codec.js';
export * from './handshake.js';
export * from './validation.js';
export * from './system_topics.js';
export * from './request_signature.js';
export { guardFor, type AvroGuard } from './avro_guard.js';
export { long_magnitude_max } from './avro_varint.js';
export { defineCodec, asBuffer, type AvroCodec, type CodecDefinition } from './avro_codec.js';
export * from './schemas/index.js';
export * from './schemas/handshake.js';
export * from './schemas/send.js';
export * from './schemas/send_batch.js';
export * from './schemas/pull.js';
export * from './schemas/consumer_offset.js';
export * from './schemas/queue_offset.js';
export * from './schemas/route.js';
export * from './schemas/cluster_info.js';
export * from './schemas/topic_list.js';
export * from './schemas/delete_topic.js';
export * from './schemas/route_notification.js';
export * from './schemas/heartbeat.js';
export * from './schemas/broker_registration.js';
export * from './schemas/create_topic.js';
export * from './schemas/message_lookup.js';
export * from './schemas/consumer_list.js';
export * from './schemas/consumer_connection.js';
export * from './schemas/message_query.js';
export * from './schemas/acl_admin.js';
export * from './schemas/unregister_client.js';
export * from './schemas/broker_endpoints.js';
export * from './schemas/send_back.js';
export * from './schemas/transaction.js';
export * from './schemas/ha.js';
export * from './schemas/topic_config_sync.js';
export * from './schemas/consumer_offset_sync.js';
export * from './schemas/namesrv_cluster.js';
export * from './schemas/error.js';
