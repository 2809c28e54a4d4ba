/**
 * Assertions stay on in production. A failed assertion means a bug, never bad input:
 * it throws AssertionFailure, which crashes the running actor so that its supervisor
 * restarts it from durable state. Conditions a user can cause are MqErrors instead.
 */
export class AssertionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionFailure';
  }
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** Ends an exhaustive `switch`: the compiler proves it unreachable, the runtime checks it. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionFailure(`unexpected ${what}: ${JSON.stringify(value)}`);
}
