import { checkName, internal_topics } from '../../protocol/index.js';
import { GrpcStatusError } from './grpc_status.js';
import { Code, type Resource } from './grpc_types.js';

/**
 * Topic and group names from a request's `Resource`s, checked as the broker checks its own
 * clients' names (protocol/validation.ts): a bad name is ILLEGAL_TOPIC (40002) or
 * ILLEGAL_CONSUMER_GROUP (40003); a `resource_namespace` is refused like the namespace
 * header (grpc_caller.ts), since mq-node has no namespaces.
 */

function checkNamespace(resource: Resource, what: string): void {
  if (resource.resource_namespace !== '') {
    throw new GrpcStatusError(Code.BAD_REQUEST, `namespaces are not supported by mq-node (the ${what} has resource_namespace '${resource.resource_namespace.slice(0, 128)}'): create the client with namespace ''`);
  }
}

/** A user topic's name: valid, and not one of the broker's internal topics. */
export function topicNameOf(resource: Resource | null | undefined): string {
  if (resource === undefined || resource === null) throw new GrpcStatusError(Code.ILLEGAL_TOPIC, 'the request names no topic');
  checkNamespace(resource, 'topic');
  const bad = checkName('topic', resource.name);
  if (bad !== undefined) throw new GrpcStatusError(Code.ILLEGAL_TOPIC, bad.message);
  if (internal_topics.has(resource.name)) throw new GrpcStatusError(Code.ILLEGAL_TOPIC, `topic '${resource.name}' is internal to the broker`);
  return resource.name;
}

/** A consumer group's name. */
export function groupNameOf(resource: Resource | null | undefined): string {
  if (resource === undefined || resource === null) throw new GrpcStatusError(Code.ILLEGAL_CONSUMER_GROUP, 'the request names no consumer group');
  checkNamespace(resource, 'group');
  const bad = checkName('group', resource.name);
  if (bad !== undefined) throw new GrpcStatusError(Code.ILLEGAL_CONSUMER_GROUP, bad.message);
  return resource.name;
}
