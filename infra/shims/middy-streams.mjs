// What @middy/core imports from `node:stream/web` and `node:stream/promises`, for response
// streaming (`streamifyResponse`), which no chores handler uses. Imported statically, those modules
// cost every cold start ~4–6 ms on their own; here each is loaded when first used, and behaves as
// the original (an `instanceof` check and a `pipeline` call are all middy does with them). The build
// aliases both modules here; only @middy/core imports them (checked in every bundle's esbuild metafile
// when this was written; a package that imported them for real would need them unaliased).
const builtin = (id) => process.getBuiltinModule(id);

// biome-ignore lint/complexity/noStaticOnlyClass: middy asks `value instanceof ReadableStream`, which only a class can answer
export class ReadableStream {
  static [Symbol.hasInstance](value) {
    return value instanceof builtin('node:stream/web').ReadableStream;
  }
}

export function pipeline(...streams) {
  return builtin('node:stream/promises').pipeline(...streams);
}
