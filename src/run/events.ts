// What the run loop tells the outside world (the display, --json, tests).
import type { StaleReason } from '../plan/reasons.js';

export type StageOutcome = 'ran' | 'cached' | 'failed' | 'skipped';

export type RunEvent =
  | { type: 'plan'; stages: Array<{ name: string; status: 'stale' | 'cached'; reasons?: StaleReason[] }> }
  | { type: 'queued'; stage: string; detail: string }
  | { type: 'start'; stage: string; gpus: string[]; attempt?: number; where?: string }
  | { type: 'progress'; stage: string; done: number; total: number; note?: string }
  | { type: 'log'; stage: string; line: string }
  | { type: 'note'; stage?: string; message: string }
  | { type: 'end'; stage: string; status: StageOutcome; seconds: number; error?: string; logTail?: string[]; logFile?: string }
  | { type: 'summary'; ran: number; cached: number; failed: number; skipped: number; seconds: number; interrupted?: boolean };

export type RunEventSink = (e: RunEvent) => void;
