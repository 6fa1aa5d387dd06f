#!/usr/bin/env node
// The `jukebox` command: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../client/cli.ts');
