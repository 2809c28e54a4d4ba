import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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

/** The charting library (uPlot: small, no dependencies), served from its package as shipped. */
const vendor_assets: Readonly<Record<string, string>> = {
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
};

export function loadInspectorAssets(): ReadonlyMap<string, InspectorAsset> {
  const vendor_dir = path.dirname(createRequire(import.meta.url).resolve('uplot'));
  const vendor = Object.entries(vendor_assets).map(([name, type]): [string, InspectorAsset] => [name, { type, body: readFileSync(path.join(vendor_dir, name)) }]);
  const candidates = [new URL('./inspector/', import.meta.url), new URL('../../../src/admin/inspector/', import.meta.url)];
  for (const dir of candidates) {
    try {
      const own = Object.entries(asset_types).map(([name, type]): [string, InspectorAsset] => [name, { type, body: readFileSync(fileURLToPath(new URL(name, dir))) }]);
      return new Map([...own, ...vendor]);
    } catch {
      // not this one
    }
  }
  throw new Error(`the inspector's files (${Object.keys(asset_types).join(', ')}) are missing from src/admin/inspector/`);
}
