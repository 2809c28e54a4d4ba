import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { startNode } from '../cli/node_process.js';
import { createTopic, pull, pullRequest, send, sendRequest } from '../server/broker/broker_helpers.js';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';

const broker_args = (data_dir: string): string[] => [
  '--role', 'broker', '--namesrv', '127.0.0.1:9', '--port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0',
  '--host', '127.0.0.1', '--data', data_dir, '--threads', '2', '--log-level', 'error',
];

async function connect(t: Test, address: string): Promise<ClientConnection> {
  const client = await ClientConnection.connect(address, { client_id: 'restart-test', kind: 'CLIENT' });
  t.teardown(() => client.close());
  return client;
}

t.test('SIGTERM on a broker: it flushes, exits 0, and a restart serves the same data', async (t) => {
  const data_dir = tempDir(t);
  const first = await startNode(t, broker_args(data_dir));
  const client = await connect(t, first.ready['broker'] as string);
  await createTopic(client, 'Kept', 2);
  const sent = 2_000;
  for (let start = 0; start < sent; start += 200) {
    await Promise.all(Array.from({ length: 200 }, (_, k) => send(client, sendRequest('Kept', (start + k) % 2, patternBody(start + k, 300)))));
  }
  client.close();
  const exit = await first.signal('SIGTERM');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.notOk(existsSync(join(data_dir, 'abort')), 'a clean stop: no abort marker left');

  const second = await startNode(t, broker_args(data_dir));
  const again = await connect(t, second.ready['broker'] as string);
  let mismatches = 0;
  let pulled = 0;
  for (let queue = 0; queue < 2; queue++) {
    let offset = 0;
    for (let page = 0; page < 100 && offset < sent / 2; page++) {
      const reply = await pull(again, pullRequest('Kept', queue, offset, { maxCount: 256 }));
      if (reply.status !== 'FOUND') break;
      for (const message of reply.messages) {
        if (!message.body.equals(patternBody(offset * 2 + queue, 300))) mismatches++;
        offset++;
        pulled++;
      }
    }
  }
  t.equal(pulled, sent, 'every message is served after the restart');
  t.equal(mismatches, 0, 'bytes equal, in order');
  const next = await send(again, sendRequest('Kept', 0, Buffer.from('after restart')));
  t.equal(next.queueOffset, sent / 2, 'queue offsets continue where they were');
  await second.signal('SIGTERM');
});
