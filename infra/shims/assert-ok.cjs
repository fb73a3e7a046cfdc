// What the X-Ray SDK's cls-hooked calls of `assert`: `ok`, on every context it enters and exits,
// always with a truthy value unless the SDK's own bookkeeping is broken. `node:assert` is loaded
// only then, to throw its own AssertionError: required at load, it cost every traced cold start
// 2–3 ms. The build aliases `assert` here; only cls-hooked requires it (checked in every bundle's
// esbuild metafile when this was written; the Redis client uses `node:assert`, not aliased).
module.exports = {
  ok(value, message) {
    if (!value) process.getBuiltinModule('node:assert').ok(value, message);
  },
};
