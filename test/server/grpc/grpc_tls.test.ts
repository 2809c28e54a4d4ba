import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { messagingServiceClient } from '../../../src/server/grpc/grpc_proto.js';
import { Code, type QueryRouteResponse } from '../../../src/server/grpc/grpc_types.js';
import { makeTestCertificates, tls_skip } from '../../helpers/test_certificates.js';
import { startGrpcNode } from './grpc_helpers.js';

/**
 * The gRPC endpoint of a node with --tls-cert/--tls-key/--tls-ca serves TLS with the node's
 * certificate and, with the CA, requires client certificates it signed (mutual TLS, as every
 * other port of the node). A client presenting one is routed; one without, or in plaintext,
 * gets no answer at all (a gRPC transport error, never a status).
 */

t.setTimeout(60_000);

function queryRoute(address: string, credentials: grpc.ChannelCredentials): Promise<QueryRouteResponse> {
  const Constructor = messagingServiceClient();
  const client = new Constructor(address, credentials);
  return new Promise<QueryRouteResponse>((resolve, reject) => {
    const method = (client as unknown as Record<string, (request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: QueryRouteResponse) => void) => void>)['QueryRoute'];
    method?.call(client, { topic: { name: 'GrpcTls', resource_namespace: '' } }, { deadline: Date.now() + 5_000 }, (error, response) => (error === null ? resolve(response) : reject(error)));
  }).finally(() => client.close());
}

t.test('mutual TLS on the gRPC port', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const node = await startGrpcNode(t, ['--tls-cert', certs.server.cert_path, '--tls-key', certs.server.key_path, '--tls-ca', certs.ca_path]);
  // By name (the certificate's DNS:localhost): an IP address as TLS server name draws a deprecation warning.
  const address = `localhost:${node.grpc.split(':')[1] ?? ''}`;
  const trusted = grpc.credentials.createSsl(Buffer.from(certs.ca), Buffer.from(certs.client.key), Buffer.from(certs.client.cert));
  const route = await queryRoute(address, trusted);
  t.same([route.status.code, route.message_queues.length], [Code.OK, 1], 'a client with a certificate of the CA is routed (the topic auto-created)');

  const without_certificate = await queryRoute(address, grpc.credentials.createSsl(Buffer.from(certs.ca))).then(() => undefined, (error: grpc.ServiceError) => error);
  t.equal(without_certificate?.code, grpc.status.UNAVAILABLE, 'a client without a certificate gets no answer');
  const plaintext = await queryRoute(address, grpc.credentials.createInsecure()).then(() => undefined, (error: grpc.ServiceError) => error);
  t.equal(plaintext?.code, grpc.status.UNAVAILABLE, 'a plaintext client gets no answer');
});
