/**
 * Every API's codecs, per protocol version.
 *
 * How a version is added (KafkaJS style): each schema file keeps its `*_v1` codecs and gains
 * `*_v2` ones only for the records that change (a v2 schema is written as the v1 schema with
 * the change); a `schemas_v2` table below starts as `{ ...schemas_v1.apis, SEND: {...v2} }`;
 * `schemas_by_version` gets the entry, and the handshake then offers it. Old versions stay
 * until no deployed peer speaks them. Request codes never change across versions.
 */
import type { AvroCodec } from '../avro_codec.js';
import { request_codes, requestCodeName, type RequestCodeName } from '../codes.js';
import { failed, ok, ProtocolError, type Result } from '../protocol_error.js';
import {
  broker_heartbeat_request_v1,
  broker_heartbeat_response_v1,
  register_broker_request_v1,
  register_broker_response_v1,
  unregister_broker_request_v1,
  unregister_broker_response_v1,
} from './broker_registration.js';
import {
  commit_consumer_offset_request_v1,
  commit_consumer_offset_response_v1,
  query_consumer_offset_request_v1,
  query_consumer_offset_response_v1,
} from './consumer_offset.js';
import { get_consumer_list_request_v1, get_consumer_list_response_v1 } from './consumer_list.js';
import { cluster_info_v1, cluster_info_v2, get_cluster_info_request_v1 } from './cluster_info.js';
import { get_consumer_connection_list_request_v2, get_consumer_connection_list_response_v2 } from './consumer_connection.js';
import { query_message_request_v2, query_message_response_v2 } from './message_query.js';
import { acl_change_response_v2, acl_delete_account_request_v2, acl_list_request_v2, acl_list_response_v2, acl_update_account_request_v2 } from './acl_admin.js';
import { create_topic_request_v1, create_topic_response_v1 } from './create_topic.js';
import { delete_topic_request_v1, delete_topic_response_v1 } from './delete_topic.js';
import { get_message_request_v1, get_message_response_v1 } from './message_lookup.js';
import { unregister_client_request_v1, unregister_client_response_v1 } from './unregister_client.js';
import { broker_endpoints_v3, get_broker_endpoints_request_v3 } from './broker_endpoints.js';
import { error_response_v1, type ErrorResponse } from './error.js';
import { hello_ack_v1, hello_v1 } from './handshake.js';
import { heartbeat_request_v1, heartbeat_request_v2, heartbeat_response_v1 } from './heartbeat.js';
import { pull_request_v1, pull_response_v1 } from './pull.js';
import { get_offset_request_v1, get_offset_response_v1 } from './queue_offset.js';
import { get_route_request_v1, topic_route_data_v1 } from './route.js';
import {
  route_changed_ack_v1,
  route_changed_notification_v1,
  subscribe_route_request_v1,
  subscribe_route_response_v1,
  unsubscribe_route_request_v1,
  unsubscribe_route_response_v1,
} from './route_notification.js';
import { get_topic_list_request_v1, topic_list_v1 } from './topic_list.js';
import { send_request_v1, send_result_v1 } from './send.js';
import { send_batch_request_v1, send_batch_response_v1 } from './send_batch.js';
import {
  check_transaction_state_ack_v1,
  check_transaction_state_request_v1,
  end_transaction_request_v1,
  end_transaction_response_v1,
} from './transaction.js';
import {
  ns_ack_request_v1,
  ns_ack_response_v1,
  ns_beat_request_v1,
  ns_beat_response_v1,
  ns_fetch_request_v1,
  ns_fetch_response_v1,
  ns_forward_request_v1,
  ns_forward_response_v1,
  ns_status_request_v1,
  ns_status_v1,
  ns_vote_request_v1,
  ns_vote_response_v1,
} from './namesrv_cluster.js';
import { all_topic_config_v1, get_all_topic_config_request_v1 } from './topic_config_sync.js';
import { all_consumer_offset_v1, get_all_consumer_offset_request_v1 } from './consumer_offset_sync.js';
import { resend_dead_letter_request_v1, resend_dead_letter_response_v1, send_back_request_v1, send_back_result_v1 } from './send_back.js';

/** The request record and the OK-response record of one API. */
export interface ApiCodecs<Request = unknown, Response = unknown> {
  request: AvroCodec<Request>;
  response: AvroCodec<Response>;
}

/** The APIs that exist only from protocol version 2 on. */
export const apis_since_v2 = ['QUERY_MESSAGE', 'GET_CONSUMER_CONNECTION_LIST', 'ACL_UPDATE_ACCOUNT', 'ACL_DELETE_ACCOUNT', 'ACL_LIST'] as const satisfies readonly RequestCodeName[];
type ApisSinceV2 = (typeof apis_since_v2)[number];

/** The APIs that exist only from protocol version 3 on. */
export const apis_since_v3 = ['GET_BROKER_ENDPOINTS'] as const satisfies readonly RequestCodeName[];
type ApisSinceV3 = (typeof apis_since_v3)[number];

export interface ProtocolSchemas {
  version: number;
  /** An API a version lacks is absent: its code is unknown at that version. */
  apis: { readonly [name in RequestCodeName]?: ApiCodecs };
  /** The body of every error response. */
  error: AvroCodec<ErrorResponse>;
}

export const schemas_v1 = {
  version: 1,
  apis: {
    HELLO: { request: hello_v1, response: hello_ack_v1 },
    SEND: { request: send_request_v1, response: send_result_v1 },
    SEND_BATCH: { request: send_batch_request_v1, response: send_batch_response_v1 },
    PULL: { request: pull_request_v1, response: pull_response_v1 },
    QUERY_CONSUMER_OFFSET: { request: query_consumer_offset_request_v1, response: query_consumer_offset_response_v1 },
    COMMIT_CONSUMER_OFFSET: { request: commit_consumer_offset_request_v1, response: commit_consumer_offset_response_v1 },
    GET_MIN_OFFSET: { request: get_offset_request_v1, response: get_offset_response_v1 },
    GET_MAX_OFFSET: { request: get_offset_request_v1, response: get_offset_response_v1 },
    GET_ROUTE: { request: get_route_request_v1, response: topic_route_data_v1 },
    GET_CLUSTER_INFO: { request: get_cluster_info_request_v1, response: cluster_info_v1 },
    GET_TOPIC_LIST: { request: get_topic_list_request_v1, response: topic_list_v1 },
    DELETE_TOPIC_IN_NAMESRV: { request: delete_topic_request_v1, response: delete_topic_response_v1 },
    SUBSCRIBE_ROUTE: { request: subscribe_route_request_v1, response: subscribe_route_response_v1 },
    UNSUBSCRIBE_ROUTE: { request: unsubscribe_route_request_v1, response: unsubscribe_route_response_v1 },
    ROUTE_CHANGED: { request: route_changed_notification_v1, response: route_changed_ack_v1 },
    HEARTBEAT: { request: heartbeat_request_v1, response: heartbeat_response_v1 },
    REGISTER_BROKER: { request: register_broker_request_v1, response: register_broker_response_v1 },
    UNREGISTER_BROKER: { request: unregister_broker_request_v1, response: unregister_broker_response_v1 },
    BROKER_HEARTBEAT: { request: broker_heartbeat_request_v1, response: broker_heartbeat_response_v1 },
    CREATE_TOPIC: { request: create_topic_request_v1, response: create_topic_response_v1 },
    GET_ALL_TOPIC_CONFIG: { request: get_all_topic_config_request_v1, response: all_topic_config_v1 },
    GET_ALL_CONSUMER_OFFSET: { request: get_all_consumer_offset_request_v1, response: all_consumer_offset_v1 },
    GET_MESSAGE: { request: get_message_request_v1, response: get_message_response_v1 },
    GET_CONSUMER_LIST: { request: get_consumer_list_request_v1, response: get_consumer_list_response_v1 },
    UNREGISTER_CLIENT: { request: unregister_client_request_v1, response: unregister_client_response_v1 },
    CONSUMER_SEND_BACK: { request: send_back_request_v1, response: send_back_result_v1 },
    RESEND_DEAD_LETTER: { request: resend_dead_letter_request_v1, response: resend_dead_letter_response_v1 },
    END_TRANSACTION: { request: end_transaction_request_v1, response: end_transaction_response_v1 },
    CHECK_TRANSACTION_STATE: { request: check_transaction_state_request_v1, response: check_transaction_state_ack_v1 },
    NS_VOTE: { request: ns_vote_request_v1, response: ns_vote_response_v1 },
    NS_BEAT: { request: ns_beat_request_v1, response: ns_beat_response_v1 },
    NS_FETCH: { request: ns_fetch_request_v1, response: ns_fetch_response_v1 },
    NS_ACK: { request: ns_ack_request_v1, response: ns_ack_response_v1 },
    NS_FORWARD: { request: ns_forward_request_v1, response: ns_forward_response_v1 },
    NS_STATUS: { request: ns_status_request_v1, response: ns_status_v1 },
  },
  error: error_response_v1,
} as const satisfies ProtocolSchemas & { apis: { readonly [name in Exclude<RequestCodeName, ApisSinceV2 | ApisSinceV3>]: ApiCodecs } };

/**
 * Version 2: HEARTBEAT carries each member's assigned queues, GET_CLUSTER_INFO each broker's
 * CommitLog end and in-sync flag; QUERY_MESSAGE (lookup by key), GET_CONSUMER_CONNECTION_LIST
 * (a group's members and their queues) and the ACL administration requests are new.
 */
export const schemas_v2 = {
  version: 2,
  apis: {
    ...schemas_v1.apis,
    HEARTBEAT: { request: heartbeat_request_v2, response: heartbeat_response_v1 },
    GET_CLUSTER_INFO: { request: get_cluster_info_request_v1, response: cluster_info_v2 },
    QUERY_MESSAGE: { request: query_message_request_v2, response: query_message_response_v2 },
    GET_CONSUMER_CONNECTION_LIST: { request: get_consumer_connection_list_request_v2, response: get_consumer_connection_list_response_v2 },
    ACL_UPDATE_ACCOUNT: { request: acl_update_account_request_v2, response: acl_change_response_v2 },
    ACL_DELETE_ACCOUNT: { request: acl_delete_account_request_v2, response: acl_change_response_v2 },
    ACL_LIST: { request: acl_list_request_v2, response: acl_list_response_v2 },
  },
  error: error_response_v1,
} as const satisfies ProtocolSchemas & { apis: { readonly [name in Exclude<RequestCodeName, ApisSinceV3>]: ApiCodecs } };

/** Version 3: GET_BROKER_ENDPOINTS (a broker's gRPC address, for RocketMQ 5 routes) is new. */
export const schemas_v3 = {
  version: 3,
  apis: {
    ...schemas_v2.apis,
    GET_BROKER_ENDPOINTS: { request: get_broker_endpoints_request_v3, response: broker_endpoints_v3 },
  },
  error: error_response_v1,
} as const satisfies ProtocolSchemas & { apis: { readonly [name in RequestCodeName]: ApiCodecs } };

export const schemas_by_version: ReadonlyMap<number, ProtocolSchemas> = new Map<number, ProtocolSchemas>([
  [1, schemas_v1],
  [2, schemas_v2],
  [3, schemas_v3],
]);

/** The protocol versions this build speaks (a contiguous range). */
export const protocol_version_min = 1;
export const protocol_version_max = 3;

/** The codecs of the API with request `code` at protocol `version`. */
export function apiCodecs(code: number, version: number): Result<ApiCodecs> {
  const schemas = schemas_by_version.get(version);
  if (schemas === undefined) {
    return failed(
      new ProtocolError(
        'UNSUPPORTED_VERSION',
        `protocol version ${version} is not spoken here (${protocol_version_min}..${protocol_version_max}); negotiate with HELLO first`,
      ),
    );
  }
  const name = requestCodeName(code);
  if (name === undefined) {
    return failed(
      new ProtocolError(
        'UNKNOWN_REQUEST_CODE',
        `request code ${code} is unknown in protocol version ${version}; known codes: ${Object.values(request_codes).join(', ')}`,
      ),
    );
  }
  const codecs = schemas.apis[name];
  if (codecs === undefined) {
    return failed(
      new ProtocolError('UNKNOWN_REQUEST_CODE', `request ${name} (${code}) is new in a later protocol version than ${version}; upgrade the older side`),
    );
  }
  return ok(codecs);
}
