import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The inspector page's static files, served as they are written (no build step): read once
 * from `src/admin/inspector/` when the admin server starts. The compiled server runs from
 * `dist/src/admin/`, so the directory is found from there; a test or `tsx` run from
 * `src/admin/` finds it too.
 */
const asset_types: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'inspector.js': 'text/javascript; charset=utf-8',
  'inspector.css': 'text/css; charset=utf-8',
};

export interface InspectorAsset {
  type: string;
  body: Buffer;
}

export function loadInspectorAssets(): ReadonlyMap<string, InspectorAsset> {
  const candidates = [new URL('./inspector/', import.meta.url), new URL('../../../src/admin/inspector/', import.meta.url)];
  for (const dir of candidates) {
    try {
      return new Map(Object.entries(asset_types).map(([name, type]) => [name, { type, body: readFileSync(fileURLToPath(new URL(name, dir))) }]));
    } catch {
      // not this one
    }
  }
  throw new Error(`the inspector's files (${Object.keys(asset_types).join(', ')}) are missing from src/admin/inspector/`);
}
