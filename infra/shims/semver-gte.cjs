// What the X-Ray SDK's dependencies call of `semver`: `gte`, once each (cls-hooked checks Node's
// version at load; the SDK v2 patcher, which chores never uses, checks the SDK's). The build aliases
// `semver` here so a traced bundle carries semver's own `gte` (~9 KiB) instead of all of semver
// (~28 KiB, a fifth of the Tracer chunk). A relative path: esbuild would alias `semver/…` too.
module.exports = { gte: require('../../node_modules/semver/functions/gte.js') };
