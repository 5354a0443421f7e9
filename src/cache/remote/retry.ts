// Retries for remote operations: transient failures (HTTP 5xx, throttling, a dropped connection)
// are tried again after an exponential backoff with full jitter (AWS's recommendation), so that
// parallel transfers that failed together do not come back together.
import { setTimeout as sleep } from 'node:timers/promises';
import { RemoteError } from './remote-store.js';

export interface RetryPolicy {
  /** Tries in all (the first one included). */
  attempts: number;
  /** Backoff before the second try, in ms; doubled after each. */
  baseMs: number;
  /** Longest single wait. */
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 200, capMs: 10_000 };

/** Run `op`; while it throws a retryable RemoteError and tries are left, wait and run it again. */
export async function withRetries<T>(op: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (!(e instanceof RemoteError) || !e.retryable) throw e;
      // A remote that refuses connections is most likely down: give up sooner than on a 503.
      if (attempt >= (e.problem === 'unreachable' ? Math.min(3, policy.attempts) : policy.attempts)) throw e;
      await sleep(Math.random() * Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1)));
    }
  }
}
