import type { RegistryEvent } from '../../actors/registry/registry_events.js';
import type { Logger } from '../../runtime/log.js';
import type { RequestHandler } from '../remoting/request_router.js';
import type { ServerConnection } from '../remoting/server_connection.js';

/**
 * The nameserver's plugin interface (a small service-provider mechanism). A plugin is an ES
 * module named in `--plugins` that exports a factory:
 *
 *   export const createPlugin: NamesrvPluginFactory = (context) => ({
 *     name: 'my-plugin',
 *     onEvent(event) { ... },         // every registry event, in order
 *     close() { ... },                // optional, at stop
 *   });
 *
 * (`export default` of the factory works too.) The factory runs once at start; a factory that
 * throws fails the start, so a broken plugin is noticed at once. After that a plugin cannot
 * hurt the nameserver: an `onEvent` that throws, rejects or hangs is caught, logged and
 * counted, and the plugin (like every other) goes on with the next event.
 *
 * Everything here runs on the nameserver's main thread: the thread of its connections.
 */
export interface NamesrvPlugin {
  readonly name: string;
  /** May return a promise: the plugin's next event waits for it (per plugin, not for others). */
  onEvent(event: RegistryEvent): void | Promise<void>;
  close?(): void | Promise<void>;
}

export type NamesrvPluginFactory = (context: NamesrvPluginContext) => NamesrvPlugin | Promise<NamesrvPlugin>;

/** What a plugin may use of the nameserver. */
export interface NamesrvPluginContext {
  /** A logger named after the plugin's module. */
  readonly log: Logger;
  readonly settings: NamesrvPluginSettings;
  /** Serves a request code on the nameserver's port (e.g. SUBSCRIBE_ROUTE). Throws if
   *  the code is served already. */
  handle(code: number, handler: RequestHandler): void;
  /** Called when a client connection to the nameserver closes. */
  onDisconnect(listener: (connection: ServerConnection) => void): void;
}

/** Configuration the shipped plugins read (from the node's flags). */
export interface NamesrvPluginSettings {
  /** Where the audit-log plugin appends its JSON lines (--audit-log). */
  readonly audit_log_path: string;
}
