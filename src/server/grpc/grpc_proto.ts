import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as proto_loader from '@grpc/proto-loader';

/**
 * The RocketMQ 5 protocol (`apache.rocketmq.v2.MessagingService`), loaded once per process
 * from the vendored .proto files in `proto/` at the package root (proto/README.md says where
 * they come from; they are unchanged). The broker reads them at run time from its own
 * package, never from the client package that is only a devDependency.
 *
 * Loader options, and why:
 * - `keepCase: true`: fields keep the proto's snake_case names (`message_queues`,
 *   `system_properties`), so the code reads like the proto and like RocketMQ's docs.
 * - `longs: Number`: every int64 this endpoint reads or writes is a queue offset, a CommitLog
 *   offset or a Timestamp/Duration `seconds`, all far below 2^53; numbers keep the code free
 *   of Long objects. Values a client sends are checked with Number.isSafeInteger where they
 *   matter (grpc_messages.ts), so an absurd int64 is refused, not silently rounded.
 * - `enums: Number` (the default, written out): enums arrive and leave as the proto's
 *   numbers, matched against the constants of grpc_types.ts; an enum value newer than our
 *   copy of the proto still arrives as its number instead of failing.
 * - `defaults: true`: absent scalar fields read as their proto3 default ('' / 0 / false /
 *   []), as the clients' generated code sees them; `optional` fields (proto3 synthetic
 *   oneofs) stay undefined when absent, so "not set" remains visible where it matters
 *   (`tag`, `delivery_timestamp`, `message_group`).
 * - `oneofs: true`: a oneof's set member is named by a virtual field (`command:
 *   'settings'`, `pub_sub: 'publishing'`).
 *
 * Google's well-known types (timestamp.proto, duration.proto) come from protobufjs through
 * proto-loader; they are not vendored.
 */

export const proto_load_options: proto_loader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** The vendored files, found from the compiled module (dist/src/server/grpc/) or the source (src/server/grpc/). */
function protoRoot(): string {
  const candidates = [new URL('../../../../proto/', import.meta.url), new URL('../../../proto/', import.meta.url)];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(`${dir}apache/rocketmq/v2/service.proto`)) return dir;
  }
  throw new Error(`the RocketMQ protocol files are missing: expected proto/apache/rocketmq/v2/service.proto at the package root (looked in ${candidates.map((url) => fileURLToPath(url)).join(', ')})`);
}

/**
 * A request that protobuf could not decode. grpc-js would answer such a call with a bare
 * gRPC INTERNAL status; the endpoint's deserializers return this marker instead, and the
 * handlers answer it with the business status BAD_REQUEST (40000) like any bad request.
 */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

export function isMalformed(value: unknown): value is MalformedRequest {
  return value instanceof MalformedRequest;
}

let loaded: grpc.ServiceDefinition | undefined;

/** The MessagingService definition with deserializers that never throw (see MalformedRequest). */
export function messagingServiceDefinition(): grpc.ServiceDefinition {
  if (loaded !== undefined) return loaded;
  const root = protoRoot();
  const definition = proto_loader.loadSync('apache/rocketmq/v2/service.proto', { ...proto_load_options, includeDirs: [root] });
  const service = definition['apache.rocketmq.v2.MessagingService'] as grpc.ServiceDefinition | undefined;
  if (service === undefined) throw new Error('service.proto does not define apache.rocketmq.v2.MessagingService');
  const lenient: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    lenient[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return new MalformedRequest(error instanceof Error ? error.message : String(error));
        }
      },
    };
  }
  loaded = lenient as grpc.ServiceDefinition;
  return loaded;
}

/** The MessagingService client constructor (tests and tools call the endpoint with it). */
export function messagingServiceClient(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(messagingServiceDefinition(), 'MessagingService');
}
