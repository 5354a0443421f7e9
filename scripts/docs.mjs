#!/usr/bin/env node
// Rewrites the README's built-in stage reference from the stages' JSON Schemas.
import { readFileSync, writeFileSync } from 'node:fs';
const { StageRegistry } = await import('../dist/src/stage/registry.js');
const { stageReference, spliceReference } = await import('../dist/src/cli/stage-reference.js');
const readme = readFileSync('README.md', 'utf8');
const next = spliceReference(readme, await stageReference(StageRegistry.fromEnvironment({})));
if (next !== readme) writeFileSync('README.md', next);
console.log(next === readme ? 'README stage reference is up to date' : 'README stage reference rewritten');
