import t from 'tap';
import * as p from '../../src/protocol/index.js';

function range(version_min: number, version_max: number): p.VersionRange {
  return { version_min, version_max };
}

function offer(versionMin: number, versionMax: number): Pick<p.Hello, 'versionMin' | 'versionMax'> {
  return { versionMin, versionMax };
}

function outcome(result: p.Result<number>): number | string {
  return result.ok ? result.value : result.error.code;
}

t.test('the highest version both sides speak is chosen', async (t) => {
  t.equal(outcome(p.negotiateVersion(offer(1, 1), range(1, 1))), 1);
  t.equal(outcome(p.negotiateVersion(offer(1, 3), range(1, 2))), 2, 'client newer than server');
  t.equal(outcome(p.negotiateVersion(offer(1, 2), range(1, 5))), 2, 'server newer than client');
  t.equal(outcome(p.negotiateVersion(offer(2, 4), range(3, 6))), 4, 'overlapping ranges');
  t.equal(outcome(p.negotiateVersion(offer(4, 4), range(1, 4))), 4, 'one shared version at the edge');
});

t.test('disjoint ranges fail with UNSUPPORTED_VERSION saying who must upgrade', async (t) => {
  const old_client = p.negotiateVersion(offer(1, 2), range(3, 4));
  t.equal(outcome(old_client), 'UNSUPPORTED_VERSION');
  t.match(old_client.ok ? '' : old_client.error.message, /client speaks 1\.\.2, the server 3\.\.4; upgrade the client/);
  const old_server = p.negotiateVersion(offer(5, 6), range(1, 4));
  t.match(old_server.ok ? '' : old_server.error.message, /upgrade the server/);
  t.equal(old_server.ok ? true : old_server.error.fatal, false, 'an error response, not a broken stream');
});

t.test('an invalid offered range is refused', async (t) => {
  for (const [min, max] of [
    [2, 1],
    [0, 1],
    [-1, 5],
    [1.5, 2],
  ] as const) {
    const result = p.negotiateVersion(offer(min, max), range(1, 9));
    t.equal(outcome(result), 'UNSUPPORTED_VERSION', `${min}..${max}`);
    t.match(result.ok ? '' : result.error.message, /no valid range/);
  }
});

t.test('this build speaks versions 1 to 3, prefers 3, and still serves a version 1 client', async (t) => {
  t.same(p.supported_versions, range(1, 3));
  t.equal(p.protocol_version_min, 1);
  t.equal(p.protocol_version_max, 3);
  t.equal(outcome(p.negotiateVersion(p.helloFor('c@1', 'CONSUMER'))), 3);
  t.same(p.helloFor('c@1', 'CONSUMER'), { versionMin: 1, versionMax: 3, clientId: 'c@1', clientKind: 'CONSUMER' });
  t.equal(outcome(p.negotiateVersion(offer(1, 2))), 2, 'a version 2 client gets version 2');
  t.equal(outcome(p.negotiateVersion(offer(1, 1))), 1, 'an old client gets version 1');
  t.equal(outcome(p.negotiateVersion(p.helloFor('c@1', 'CONSUMER'), range(1, 1))), 1, 'an old server is answered in version 1');
});

t.test('a full exchange: Hello frame in, HelloAck frame out, checked by the client', async (t) => {
  const hello_frame = p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('app@7', 'PRODUCER'))));
  const [received] = new p.FrameDecoder().push(hello_frame);
  if (!received?.ok) throw new Error('hello frame did not decode');
  t.equal(received.envelope.code, p.request_codes.HELLO);
  const hello = p.decodeHello(received.envelope.body);
  if (!hello.ok) throw hello.error;
  const ack = p.acceptHello(hello.value, { server_id: 'broker-a', frame_bytes_max: p.frame_bytes_max });
  if (!ack.ok) throw ack.error;
  t.same({ ...ack.value }, { version: 3, serverId: 'broker-a', frameBytesMax: p.frame_bytes_max });
  const ack_frame = p.encodeFrame(p.responseEnvelope(received.envelope, p.encodeHelloAck(ack.value)));
  const [answer] = new p.FrameDecoder().push(ack_frame);
  if (!answer?.ok) throw new Error('ack frame did not decode');
  t.equal(p.isResponse(answer.envelope), true);
  t.equal(answer.envelope.correlationId, 1);
  const decoded_ack = p.decodeHelloAck(answer.envelope.body);
  t.equal(decoded_ack.ok && outcome(p.checkHelloAck(decoded_ack.value)), 3);
});

t.test('acceptHello refuses with the negotiation error; checkHelloAck refuses a version not offered', async (t) => {
  const refused = p.acceptHello(offer(7, 8), { server_id: 's', frame_bytes_max: 1024, range: range(1, 2) });
  t.equal(refused.ok ? 'ok' : refused.error.code, 'UNSUPPORTED_VERSION');
  t.equal(outcome(p.checkHelloAck({ version: 2 }, range(1, 1))), 'UNSUPPORTED_VERSION');
  t.equal(outcome(p.checkHelloAck({ version: 0 })), 'UNSUPPORTED_VERSION');
  t.equal(outcome(p.checkHelloAck({ version: 3 }, range(2, 4))), 3);
});
