// What the X-Ray SDK's dependencies call of `semver`: `gte`, once each (cls-hooked checks Node's
// version at load; the SDK v2 patcher, which chores never uses, checks the SDK's). The build aliases
// `semver` here so a traced bundle carries semver's own `gte` (~9 KiB) instead of all of semver
// (~28 KiB, a fifth of the Tracer chunk). A relative path: esbuild would alias `semver/…` too.
// Required on the first call, not at load: semver compiles some 40 regular expressions as it loads
// (2–3 ms of every traced cold start), and the SDK v2 patcher requires it at load without calling it.
module.exports = { gte: (...args) => require('../../node_modules/semver/functions/gte.js')(...args) };
