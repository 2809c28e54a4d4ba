/** Every schema's codec with its sample value: the table the round-trip and fuzz tests walk. */
import type { AvroCodec } from '../../src/protocol/index.js';
import * as p from '../../src/protocol/index.js';
import * as v from './sample_values.js';

export interface SchemaCase {
  name: string;
  codec: AvroCodec<unknown>;
  value: unknown;
  encode: (value: never) => Buffer;
  decode: (bytes: Uint8Array) => p.Result<unknown>;
}

function entry<T>(
  name: string,
  codec: AvroCodec<T>,
  value: T,
  encode: (value: T) => Buffer,
  decode: (bytes: Uint8Array) => p.Result<T>,
): SchemaCase {
  return { name, codec: codec as AvroCodec<unknown>, value, encode: encode as (value: never) => Buffer, decode };
}

export const schema_cases: SchemaCase[] = [
  entry('Hello', p.hello_v1, v.hello, p.encodeHello, p.decodeHello),
  entry('HelloAck', p.hello_ack_v1, v.hello_ack, p.encodeHelloAck, p.decodeHelloAck),
  entry('SendRequest', p.send_request_v1, v.send_request, p.encodeSendRequest, p.decodeSendRequest),
  entry('SendResult', p.send_result_v1, v.send_result, p.encodeSendResult, p.decodeSendResult),
  entry('SendBatchRequest', p.send_batch_request_v1, v.send_batch_request, p.encodeSendBatchRequest, p.decodeSendBatchRequest),
  entry('SendBatchResponse', p.send_batch_response_v1, v.send_batch_response, p.encodeSendBatchResponse, p.decodeSendBatchResponse),
  entry('PullRequest', p.pull_request_v1, v.pull_request, p.encodePullRequest, p.decodePullRequest),
  entry('PullResponse', p.pull_response_v1, v.pull_response, p.encodePullResponse, p.decodePullResponse),
  entry(
    'QueryConsumerOffsetRequest',
    p.query_consumer_offset_request_v1,
    v.query_consumer_offset_request,
    p.encodeQueryConsumerOffsetRequest,
    p.decodeQueryConsumerOffsetRequest,
  ),
  entry(
    'QueryConsumerOffsetResponse',
    p.query_consumer_offset_response_v1,
    v.query_consumer_offset_response,
    p.encodeQueryConsumerOffsetResponse,
    p.decodeQueryConsumerOffsetResponse,
  ),
  entry(
    'CommitConsumerOffsetRequest',
    p.commit_consumer_offset_request_v1,
    v.commit_consumer_offset_request,
    p.encodeCommitConsumerOffsetRequest,
    p.decodeCommitConsumerOffsetRequest,
  ),
  entry(
    'CommitConsumerOffsetResponse',
    p.commit_consumer_offset_response_v1,
    {},
    p.encodeCommitConsumerOffsetResponse,
    p.decodeCommitConsumerOffsetResponse,
  ),
  entry('GetOffsetRequest', p.get_offset_request_v1, v.get_offset_request, p.encodeGetOffsetRequest, p.decodeGetOffsetRequest),
  entry('GetOffsetResponse', p.get_offset_response_v1, v.get_offset_response, p.encodeGetOffsetResponse, p.decodeGetOffsetResponse),
  entry('GetRouteRequest', p.get_route_request_v1, v.get_route_request, p.encodeGetRouteRequest, p.decodeGetRouteRequest),
  entry('TopicRouteData', p.topic_route_data_v1, v.topic_route_data, p.encodeTopicRouteData, p.decodeTopicRouteData),
  entry('HeartbeatRequest', p.heartbeat_request_v1, v.heartbeat_request, p.encodeHeartbeatRequest, p.decodeHeartbeatRequest),
  entry('HeartbeatResponse', p.heartbeat_response_v1, {}, p.encodeHeartbeatResponse, p.decodeHeartbeatResponse),
  entry(
    'RegisterBrokerRequest',
    p.register_broker_request_v1,
    v.register_broker_request,
    p.encodeRegisterBrokerRequest,
    p.decodeRegisterBrokerRequest,
  ),
  entry(
    'RegisterBrokerResponse',
    p.register_broker_response_v1,
    v.register_broker_response,
    p.encodeRegisterBrokerResponse,
    p.decodeRegisterBrokerResponse,
  ),
  entry(
    'BrokerHeartbeatRequest',
    p.broker_heartbeat_request_v1,
    v.broker_heartbeat_request,
    p.encodeBrokerHeartbeatRequest,
    p.decodeBrokerHeartbeatRequest,
  ),
  entry(
    'BrokerHeartbeatResponse',
    p.broker_heartbeat_response_v1,
    v.broker_heartbeat_response,
    p.encodeBrokerHeartbeatResponse,
    p.decodeBrokerHeartbeatResponse,
  ),
  entry(
    'UnregisterBrokerRequest',
    p.unregister_broker_request_v1,
    v.unregister_broker_request,
    p.encodeUnregisterBrokerRequest,
    p.decodeUnregisterBrokerRequest,
  ),
  entry(
    'UnregisterBrokerResponse',
    p.unregister_broker_response_v1,
    {},
    p.encodeUnregisterBrokerResponse,
    p.decodeUnregisterBrokerResponse,
  ),
  entry('CreateTopicRequest', p.create_topic_request_v1, v.create_topic_request, p.encodeCreateTopicRequest, p.decodeCreateTopicRequest),
  entry('CreateTopicResponse', p.create_topic_response_v1, {}, p.encodeCreateTopicResponse, p.decodeCreateTopicResponse),
  entry('ErrorResponse', p.error_response_v1, v.error_response, p.encodeErrorResponse, p.decodeErrorResponse),
  entry('GetMessageRequest', p.get_message_request_v1, v.get_message_request, p.encodeGetMessageRequest, p.decodeGetMessageRequest),
  entry('GetMessageResponse', p.get_message_response_v1, v.pull_response.messages[0] as p.StoredMessage, p.encodeGetMessageResponse, p.decodeGetMessageResponse),
  entry('GetConsumerListRequest', p.get_consumer_list_request_v1, v.get_consumer_list_request, p.encodeGetConsumerListRequest, p.decodeGetConsumerListRequest),
  entry('GetConsumerListResponse', p.get_consumer_list_response_v1, v.get_consumer_list_response, p.encodeGetConsumerListResponse, p.decodeGetConsumerListResponse),
  entry('UnregisterClientRequest', p.unregister_client_request_v1, v.unregister_client_request, p.encodeUnregisterClientRequest, p.decodeUnregisterClientRequest),
  entry('UnregisterClientResponse', p.unregister_client_response_v1, {}, p.encodeUnregisterClientResponse, p.decodeUnregisterClientResponse),
  entry('GetClusterInfoRequest', p.get_cluster_info_request_v1, v.get_cluster_info_request, p.encodeGetClusterInfoRequest, p.decodeGetClusterInfoRequest),
  entry('ClusterInfo', p.cluster_info_v1, v.cluster_info, p.encodeClusterInfo, p.decodeClusterInfo),
  entry('GetTopicListRequest', p.get_topic_list_request_v1, v.get_topic_list_request, p.encodeGetTopicListRequest, p.decodeGetTopicListRequest),
  entry('TopicList', p.topic_list_v1, v.topic_list, p.encodeTopicList, p.decodeTopicList),
  entry('DeleteTopicRequest', p.delete_topic_request_v1, v.delete_topic_request, p.encodeDeleteTopicRequest, p.decodeDeleteTopicRequest),
  entry('DeleteTopicResponse', p.delete_topic_response_v1, {}, p.encodeDeleteTopicResponse, p.decodeDeleteTopicResponse),
  entry('SubscribeRouteRequest', p.subscribe_route_request_v1, v.subscribe_route_request, p.encodeSubscribeRouteRequest, p.decodeSubscribeRouteRequest),
  entry('SubscribeRouteResponse', p.subscribe_route_response_v1, v.subscribe_route_response, p.encodeSubscribeRouteResponse, p.decodeSubscribeRouteResponse),
  entry('UnsubscribeRouteRequest', p.unsubscribe_route_request_v1, v.subscribe_route_request, p.encodeUnsubscribeRouteRequest, p.decodeUnsubscribeRouteRequest),
  entry('UnsubscribeRouteResponse', p.unsubscribe_route_response_v1, v.subscribe_route_response, p.encodeUnsubscribeRouteResponse, p.decodeUnsubscribeRouteResponse),
  entry('RouteChangedNotification', p.route_changed_notification_v1, v.route_changed_notification, p.encodeRouteChangedNotification, p.decodeRouteChangedNotification),
  entry('RouteChangedAck', p.route_changed_ack_v1, {}, p.encodeRouteChangedAck, p.decodeRouteChangedAck),
  entry('GetAllTopicConfigRequest', p.get_all_topic_config_request_v1, {}, p.encodeGetAllTopicConfigRequest, p.decodeGetAllTopicConfigRequest),
  entry('AllTopicConfig', p.all_topic_config_v1, v.all_topic_config, p.encodeAllTopicConfig, p.decodeAllTopicConfig),
  entry('GetAllConsumerOffsetRequest', p.get_all_consumer_offset_request_v1, {}, p.encodeGetAllConsumerOffsetRequest, p.decodeGetAllConsumerOffsetRequest),
  entry('AllConsumerOffset', p.all_consumer_offset_v1, v.all_consumer_offset, p.encodeAllConsumerOffset, p.decodeAllConsumerOffset),
  entry('HaHelloRequest', p.ha_hello_request_v1, v.ha_hello_request, p.encodeHaHelloRequest, p.decodeHaHelloRequest),
  entry('HaHelloResponse', p.ha_hello_response_v1, v.ha_hello_response, p.encodeHaHelloResponse, p.decodeHaHelloResponse),
  entry('SendBackRequest', p.send_back_request_v1, v.send_back_request, p.encodeSendBackRequest, p.decodeSendBackRequest),
  entry('SendBackResult', p.send_back_result_v1, v.send_back_result, p.encodeSendBackResult, p.decodeSendBackResult),
  entry('ResendDeadLetterRequest', p.resend_dead_letter_request_v1, v.resend_dead_letter_request, p.encodeResendDeadLetterRequest, p.decodeResendDeadLetterRequest),
  entry('EndTransactionRequest', p.end_transaction_request_v1, v.end_transaction_request, p.encodeEndTransactionRequest, p.decodeEndTransactionRequest),
  entry('EndTransactionResponse', p.end_transaction_response_v1, v.end_transaction_response, p.encodeEndTransactionResponse, p.decodeEndTransactionResponse),
  entry('CheckTransactionStateRequest', p.check_transaction_state_request_v1, { producerGroup: 'order-tx', commitLogOffset: 8_000_000_123, msgId: '0000018BCFE5AA000A00000529BF00000001DCD6F5C0', message: v.pull_response.messages[0] as p.StoredMessage, checkTimes: 2 }, p.encodeCheckTransactionStateRequest, p.decodeCheckTransactionStateRequest),
  entry('CheckTransactionStateAck', p.check_transaction_state_ack_v1, {}, p.encodeCheckTransactionStateAck, p.decodeCheckTransactionStateAck),
  entry('ResendDeadLetterResponse', p.resend_dead_letter_response_v1, v.send_result, p.encodeResendDeadLetterResponse, p.decodeResendDeadLetterResponse),
];
