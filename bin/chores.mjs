#!/usr/bin/env node
// The CLI is TypeScript run in place through tsx, so `npx chores` works in a fresh clone
// without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
