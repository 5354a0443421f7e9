// Where the checkpoint tests find their fixtures: ours (test/fixtures/checkpoints, made by
// make_fixtures.py there) and the real third-party ones in ../shared/external/checkpoints.
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';

export const checkpointFixture = (name: string): string => join(repoRoot(), 'test', 'fixtures', 'checkpoints', name);
export const externalCheckpoint = (name: string): string => join(repoRoot(), '..', 'shared', 'external', 'checkpoints', name);
