import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MqError } from '../../runtime/errors.js';
import type { NamesrvPlugin, NamesrvPluginContext, NamesrvPluginFactory } from './namesrv_plugin.js';

/**
 * Finds and starts the plugins named in `--plugins`. A name is one of
 *
 *   route-notifications, audit-log     the plugins shipped with mq-node (plugins/)
 *   ./x.js, ../x.js, /abs/x.js         a module file, relative to the working directory
 *   file:///abs/x.js                   a module URL
 *   some-package, @scope/pkg/sub       a package, resolved like any import
 *
 * and its module exports the factory as `createPlugin` (or as its default export).
 */
export const builtin_plugins: ReadonlyMap<string, string> = new Map([
  ['route-notifications', new URL('./plugins/route_notification_plugin.js', import.meta.url).href],
  ['audit-log', new URL('./plugins/audit_log_plugin.js', import.meta.url).href],
]);

/** The import specifier of a --plugins entry. */
export function pluginModuleSpecifier(entry: string, cwd: string = process.cwd()): string {
  const builtin = builtin_plugins.get(entry);
  if (builtin !== undefined) return builtin;
  if (entry.startsWith('file:')) return entry;
  if (isAbsolute(entry) || entry.startsWith('./') || entry.startsWith('../')) return pathToFileURL(resolve(cwd, entry)).href;
  return entry;
}

/** Imports the module and runs its factory; any failure is an MqError naming the entry. */
export async function loadPlugin(entry: string, context: NamesrvPluginContext): Promise<NamesrvPlugin> {
  const specifier = pluginModuleSpecifier(entry);
  let module: { createPlugin?: unknown; default?: unknown };
  try {
    module = (await import(specifier)) as typeof module;
  } catch (error) {
    throw new MqError('BAD_REQUEST', `plugin '${entry}' could not be loaded from ${specifier}: ${describe(error)}; fix --plugins (names: ${[...builtin_plugins.keys()].join(', ')}, a module path or a package)`, { cause: error });
  }
  const factory = module.createPlugin ?? module.default;
  if (typeof factory !== 'function') {
    throw new MqError('BAD_REQUEST', `plugin module '${entry}' exports no factory: export a function \`createPlugin(context)\` (or a default export) returning {name, onEvent}`);
  }
  let plugin: unknown;
  try {
    plugin = await (factory as NamesrvPluginFactory)(context);
  } catch (error) {
    throw new MqError('BAD_REQUEST', `plugin '${entry}' failed to start: ${describe(error)}`, { cause: error });
  }
  const candidate = plugin as Partial<NamesrvPlugin> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.name !== 'string' || typeof candidate.onEvent !== 'function') {
    throw new MqError('BAD_REQUEST', `plugin '${entry}': its factory must return an object with a string \`name\` and an \`onEvent(event)\` function`);
  }
  return candidate as NamesrvPlugin;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
