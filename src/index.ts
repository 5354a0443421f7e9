// The public API of the fisherflow package (`import { defineStage } from 'fisherflow'`): the stage
// contract (also `fisherflow/stage`), and the typed rerun reasons that `status --json` and
// `diff --json` print. The test helpers are `fisherflow/testing`. Free of engine imports on
// purpose: stage modules load this while `status` plans, which must stay fast.
export * from './stage/api.js';
export { formatAction, formatReason, type ActionJson, type ChangeKind, type ReasonJson, type StaleAction, type StaleReason } from './plan/reasons.js';
