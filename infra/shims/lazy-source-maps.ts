import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Injected into every Lambda bundle by the build (infra/bundling.ts `inject`), and only there. Self-
// contained: esbuild imports an injected file into every other module, so one it imported back would
// make a cycle.

/**
 * Stack traces of a Lambda bundle that point at our TypeScript, with the source map read only when a
 * stack is first printed. Node's `--enable-source-maps` does the same mapping, but reads and parses
 * every loaded module's map at import: 8–20 ms of each cold start (`npm run bench -- bundles`), for
 * stacks that most containers never print. Each bundle file's map is `<file>.map` beside it, as
 * esbuild writes it, read once per container; a frame with no map (Node's own modules) prints as V8
 * prints it. Under Node's own source-map support (a stage that sets NODE_OPTIONS=--enable-source-maps)
 * it stands aside.
 */
function installLazySourceMaps(): void {
  if (process.sourceMapsEnabled) return;
  Error.prepareStackTrace = formatStack;
}

/** The bundle files' maps, by file URL; null for a file with none. */
const maps = new Map<string, { map: SourceMap; url: string } | null>();
let formatting = false;

/** As Node formats a stack (`Name: message` then one `    at …` line per frame), frames mapped. */
function formatStack(error: Error, frames: NodeJS.CallSite[]): string {
  let head: string;
  try {
    head = Error.prototype.toString.call(error);
  } catch {
    head = '<error>';
  }
  // An error thrown while mapping (reading a map) has its own stack formatted: printed unmapped.
  const mapping = !formatting;
  formatting = true;
  try {
    return [head, ...frames.map((frame) => `    at ${mapping ? mapFrameOrNot(frame) : frame.toString()}`)].join('\n');
  } finally {
    if (mapping) formatting = false;
  }
}

/**
 * A frame mapped, or as V8 prints it when mapping it fails: what throws here would be thrown by every
 * read of the error's `stack`, by the logger printing it, and the error itself would be lost.
 */
function mapFrameOrNot(frame: NodeJS.CallSite): string {
  try {
    return mapFrame(frame);
  } catch {
    return frame.toString();
  }
}

function mapFrame(frame: NodeJS.CallSite): string {
  const file = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!file?.startsWith('file:') || line === null || column === null) return frame.toString();
  const bundle = mapOf(file);
  const entry = bundle?.map.findEntry(line - 1, column - 1);
  if (!bundle || !entry || !('originalSource' in entry) || typeof entry.originalSource !== 'string') return frame.toString();
  // A dependency's own map, which esbuild chains, may name its sources by URL (`webpack://…`): printed as such.
  const url = new URL(entry.originalSource, bundle.url);
  const source = url.protocol === 'file:' ? fileURLToPath(url) : url.href;
  // Named as V8 names the frame (the bundle keeps names): `Type.method`, or the function.
  const type = frame.getTypeName();
  const name = `${type !== null && type !== 'global' ? `${type}.` : ''}${frame.getFunctionName() ?? frame.getMethodName() ?? '<anonymous>'}`;
  const prefix = frame.isAsync() ? 'async ' : frame.isConstructor() ? 'new ' : '';
  return `${prefix}${name} (${source}:${entry.originalLine + 1}:${entry.originalColumn + 1})`;
}

function mapOf(file: string): { map: SourceMap; url: string } | null {
  let found = maps.get(file);
  if (found === undefined) {
    found = null;
    try {
      const path = `${fileURLToPath(file)}.map`;
      found = { map: new SourceMap(JSON.parse(readFileSync(path, 'utf8'))), url: pathToFileURL(path).href };
    } catch {
      // No map beside this file: its frames print as they are.
    }
    maps.set(file, found);
  }
  return found;
}

installLazySourceMaps();
