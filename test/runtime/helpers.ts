import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { type ActorSystem, type ActorSystemOptions } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';

/** Starts an actor system that is stopped when the test ends, pass or fail. */
export async function startSystem(t: Test, options: ActorSystemOptions = {}): Promise<ActorSystem> {
  const system = await startActorSystem({ threads: 2, ...options });
  t.teardown(() => system.stop());
  return system;
}

/** A fresh directory removed when the test ends. */
export function tempDir(t: Test, prefix = 'mq-runtime-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves with the first event of that name, or rejects after `timeout_ms`. */
export function nextEvent<T>(emitter: NodeJS.EventEmitter, name: string, timeout_ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, on_event);
      reject(new Error(`no '${name}' event within ${timeout_ms} ms`));
    }, timeout_ms);
    const on_event = (value: T): void => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(name, on_event);
  });
}

/** Resolves with the rejection of `promise` (fails if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected a rejection, got a value');
}
