import net from 'node:net';
import t, { type Test } from 'tap';
import * as p from '../../../src/protocol/index.js';
import { tempDir } from '../../storage/commit_log_helpers.js';
import { createTopic, pull, pullRequest, send, sendRequest, startBroker } from './broker_helpers.js';
import { send_limits } from '../../../src/server/broker/send_handlers.js';

/** Opens a raw socket, writes `bytes`, and resolves with what came back once the server closes
 *  it or `settle_ms` passes; destroyed at teardown either way. */
function rawExchange(t: Test, address: string, chunks: Buffer[], settle_ms = 300): Promise<{ replies: p.FrameResult[]; closed_by_server: boolean }> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    t.teardown(() => socket.destroy());
    const decoder = new p.FrameDecoder();
    const replies: p.FrameResult[] = [];
    let closed_by_server = false;
    socket.on('data', (chunk: Buffer) => replies.push(...decoder.push(chunk)));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed_by_server = true;
      resolve({ replies, closed_by_server });
    });
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      setTimeout(() => {
        resolve({ replies, closed_by_server });
        socket.destroy();
      }, settle_ms);
    });
  });
}

const hello = p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('raw', 'CLIENT'))));
const errorCodeOf = (result: p.FrameResult | undefined): string | undefined => {
  if (result === undefined || !result.ok || !p.isError(result.envelope)) return undefined;
  const body = p.decodeErrorResponse(result.envelope.body);
  return body.ok ? body.value.code : undefined;
};

t.test('hostile input on raw sockets while a well-behaved client sends and pulls', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const good = await broker.client('good');
  await createTopic(good, 'Good', 2);

  // The well-behaved client works the whole time; any error it sees fails the test.
  let stop = false;
  let good_sent = 0;
  let good_errors = 0;
  const worker = (async () => {
    for (let i = 0; i < 100_000 && !stop; i++) {
      try {
        await send(good, sendRequest('Good', i % 2, Buffer.from(`good ${i}`)));
        good_sent++;
      } catch {
        good_errors++;
      }
    }
  })();

  const cases: Array<{ name: string; chunks: Buffer[]; expect: 'closed' | string }> = [
    { name: 'garbage bytes', chunks: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], expect: 'closed' },
    { name: 'a frame over the limit', chunks: [hello, Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0])], expect: 'closed' },
    { name: 'an unknown request code', chunks: [hello, p.encodeFrame(p.requestEnvelope(4242, 2, Buffer.alloc(0)))], expect: 'BAD_REQUEST' },
    { name: 'a send with an invalid topic name', chunks: [hello, p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 2, p.encodeSendRequest(sendRequest('no spaces allowed', 0, Buffer.from('x')))))], expect: 'BAD_REQUEST' },
    { name: 'a send with an oversize body', chunks: [hello, p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 2, p.encodeSendRequest(sendRequest('Good', 0, Buffer.alloc(p.body_bytes_max + 10)))))], expect: 'MESSAGE_TOO_LARGE' },
    { name: 'a pull for a queue that does not exist', chunks: [hello, p.encodeFrame(p.requestEnvelope(p.request_codes.PULL, 2, p.encodePullRequest(pullRequest('Good', 99, 0))))], expect: 'BAD_REQUEST' },
    { name: 'a send before HELLO', chunks: [p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 2, p.encodeSendRequest(sendRequest('Good', 0, Buffer.from('x')))))], expect: 'closed' },
  ];
  for (const hostile of cases) {
    const result = await rawExchange(t, broker.address, hostile.chunks);
    if (hostile.expect === 'closed') t.ok(result.closed_by_server, `${hostile.name}: that connection was closed`);
    else t.equal(errorCodeOf(result.replies[1]), hostile.expect, `${hostile.name}: answered ${hostile.expect}`);
  }
  // A truncated frame, then the peer closes: nothing to answer, nothing must break.
  const truncated = p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 3, p.encodeSendRequest(sendRequest('Good', 0, Buffer.from('x')))));
  await rawExchange(t, broker.address, [hello, truncated.subarray(0, truncated.length - 5)], 50);

  stop = true;
  await worker;
  t.equal(good_errors, 0, 'the well-behaved client saw no error');
  t.ok(good_sent > 0, `it kept sending meanwhile (${good_sent} messages)`);
  const last = await pull(good, pullRequest('Good', 0, 0, { maxCount: 5 }));
  t.equal(last.status, 'FOUND', 'and its messages are there to pull');
});

/** What the broker fuzz test (broker_fuzz.test.ts) found, pinned: each was an INTERNAL error or worse. */
t.test('values the fuzz test found: refused as BAD_REQUEST, never INTERNAL or a broken route', async (t) => {
  const broker = await startBroker(t, tempDir(t), ['--auto-create-topic', 'true']);
  const client = await broker.client('fuzz-findings');
  await createTopic(client, 'Found', 1);
  const codeOf = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'OK', (error: { code: string }) => error.code);

  // Negative numbers the record stores unsigned made the CommitLog write throw.
  t.equal(await codeOf(send(client, sendRequest('Found', 0, Buffer.from('x'), { flags: -23 }))), 'BAD_REQUEST', 'negative flags');
  t.equal(await codeOf(send(client, sendRequest('Found', 0, Buffer.from('x'), { bornTimestamp: -1 }))), 'BAD_REQUEST', 'negative bornTimestamp');
  t.equal(await codeOf(send(client, sendRequest('Found', 0, Buffer.from('x'), { reconsumeTimes: -1 }))), 'BAD_REQUEST', 'negative reconsumeTimes');
  const batch = p.encodeSendBatchRequest({ messages: [sendRequest('Found', 0, Buffer.from('a')), sendRequest('Found', 0, Buffer.from('b'), { bornTimestamp: -1 })] });
  t.equal(await codeOf(client.request(p.request_codes.SEND_BATCH, batch)), 'BAD_REQUEST', 'a batch with one of them');
  t.equal((await send(client, sendRequest('Found', 0, Buffer.from('x'), { bornHost: 'not-an-address:-5' }))).status, 'SEND_OK', 'a born host that is no address is stored as 0 (informational)');

  // A count that, sent back once, no longer fits the protocol's int: the retry copy could not be pulled.
  t.equal(await codeOf(send(client, sendRequest('Found', 0, Buffer.from('x'), { reconsumeTimes: 2 ** 31 - 1 }))), 'BAD_REQUEST', 'reconsumeTimes past the broker\'s bound');
  const worn = await send(client, sendRequest('Found', 0, Buffer.from('worn out'), { reconsumeTimes: send_limits.reconsume_times_max }));
  const back = p.decodeSendBackResult(await client.request(p.request_codes.CONSUMER_SEND_BACK, p.encodeSendBackRequest({
    group: 'fuzz-findings', commitLogOffset: worn.commitLogOffset, msgId: worn.msgId, maxReconsumeTimes: 2 ** 31 - 1,
  })));
  t.match(back.ok ? back.value : back.error, { destination: 'DLQ', reconsumeTimes: send_limits.reconsume_times_max + 1 }, 'a message at the bound is dead-lettered whatever maxReconsumeTimes says');
  let letters = await pull(client, pullRequest('%DLQ%fuzz-findings', 0, 0));
  for (let attempt = 0; attempt < 200 && letters.status !== 'FOUND'; attempt++) { // dispatch follows the append
    await new Promise((resolve) => setTimeout(resolve, 10));
    letters = await pull(client, pullRequest('%DLQ%fuzz-findings', 0, 0));
  }
  t.equal(letters.messages[0]?.reconsumeTimes, send_limits.reconsume_times_max + 1, 'and its dead letter can be pulled');

  // A perm the nameserver refuses made it refuse every registration of the broker from then on.
  t.equal(await codeOf(client.request(p.request_codes.CREATE_TOPIC, p.encodeCreateTopicRequest({ topic: 'FoundPerm', queues: 13, perm: 2 ** 31 - 1 }))), 'BAD_REQUEST', 'CREATE_TOPIC with perm 2^31-1');
  t.equal(await codeOf(client.request(p.request_codes.CREATE_TOPIC, p.encodeCreateTopicRequest({ topic: 'FoundPerm', queues: 1, perm: 8 }))), 'BAD_REQUEST', 'or with any bit beyond read, write, inherit');
  t.equal(await codeOf(pull(client, pullRequest('FoundPerm', 0, 0))), 'TOPIC_NOT_FOUND', 'and the topic was not created');
});
