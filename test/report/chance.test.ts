// The report's honesty checks: the Wilson interval, the at-chance test against chance and the
// majority class, which model a Fisher belongs to, labels made distinct, 4 significant digits,
// and the terminal summary with accuracies and warnings beside the overlaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chanceCheck, modelAccuracies, modelOfFisher, wilsonInterval } from '../../stages/report/chance.js';
import { overlapRows, overlapSummaryText, sig4 } from '../../stages/report/overlap-rows.js';
import { heatmapAddsSomething } from '../../stages/report/page.js';
import type { Evaluation } from '../../stages/report/fusion-data.js';
import type { OverlapSet } from '../../stages/report/report-data.js';

test('wilsonInterval matches the textbook values', () => {
  // p = 0.5, n = 100: 0.4038–0.5962 (Wilson 1927; statsmodels proportion_confint(method="wilson")).
  const a = wilsonInterval(0.5, 100);
  assert.ok(Math.abs(a.low - 0.40383) < 1e-4 && Math.abs(a.high - 0.59617) < 1e-4, JSON.stringify(a));
  const b = wilsonInterval(1, 50);
  assert.equal(b.high, 1);
  assert.ok(Math.abs(b.low - 0.92865) < 1e-4, JSON.stringify(b));
});

test('chanceCheck flags accuracies within reach of chance or of the majority class', () => {
  // 52 % of 200: the interval reaches 50 %.
  assert.equal(chanceCheck({ accuracy: 0.52, examples: 200 })!.baseline, 'chance');
  // 75 % of 872 is far above chance.
  assert.equal(chanceCheck({ accuracy: 0.75, examples: 872 })!.atChance, false);
  // 80 % where 80 % of labels are class 1: always-1 gets the same.
  const skewed = chanceCheck({ accuracy: 0.8, examples: 100, confusion: [[0, 20], [0, 80]] })!;
  assert.equal(skewed.atChance, true);
  assert.equal(skewed.baseline, 'majority class');
  assert.equal(skewed.majority, 0.8);
  // Below chance is no evidence of learning either.
  assert.equal(chanceCheck({ accuracy: 0.2, examples: 500 })!.atChance, true);
  assert.equal(chanceCheck({ accuracy: null, examples: 10 }), null);
});

test('modelOfFisher takes the longest model name followed by a separator', () => {
  assert.equal(modelOfFisher('tic_shortcut', ['st', 'op', 'tic']), 'tic');
  assert.equal(modelOfFisher('st_orig', ['st', 'st_big']), 'st');
  assert.equal(modelOfFisher('st_big_orig', ['st', 'st_big']), 'st_big');
  assert.equal(modelOfFisher('stx', ['st']), null);
  assert.equal(modelOfFisher('op', ['op']), 'op');
});

function evaluation(name: string, synth: number, orig: number): Evaluation {
  return { name, file: `${name}.json`, data: { sets: { [`${name},synthetic_dev`]: { accuracy: synth, examples: 300 }, [`${name},original_dev`]: { accuracy: orig, examples: 700 } } } };
}

test('overlap rows: distinct labels, accuracies beside each side, warnings for models at chance', () => {
  const sets: OverlapSet[] = ['tic-op', 'tic-st'].map((name) => {
    const [a, b] = name.split('-');
    return {
      name, file: `${name}.json`,
      data: { pairs: [
        { a: `${a}_shortcut`, b: `${b}_shortcut`, label: 'UNSHARED', kind: 'unshared', overlap: 0.123456, interval: { low: 0.1, high: 0.15, level: 0.95 } },
        { a: `${a}_orig`, b: `${b}_orig`, label: 'SHARED (ORIG)', kind: 'shared', overlap: 0.98765 },
      ] },
    };
  });
  const models = modelAccuracies([evaluation('tic', 0.998, 0.76), evaluation('op', 0.51, 0.74), evaluation('st', 1, 0.77)]);
  const rows = overlapRows(sets, models);
  assert.deepEqual(rows.map((r) => r.label), ['UNSHARED [tic-op]', 'SHARED (ORIG) [tic-op]', 'UNSHARED [tic-st]', 'SHARED (ORIG) [tic-st]']);
  assert.deepEqual(rows[0]!.sides.map((s) => s.model), ['tic', 'op']);
  assert.equal(rows[0]!.sides[1].warnings.length, 1);
  assert.match(rows[0]!.sides[1].warnings[0]!, /^op on synthetic_dev: 51\.0 % \(95 % CI .* n = 300\) is within reach of chance \(50\.0 %\)$/);
  assert.equal(rows[2]!.sides[1].warnings.length, 0);
  const text = overlapSummaryText(rows);
  assert.match(text, /UNSHARED \[tic-op\] +0\.1235 +\[0\.1000, 0\.1500\] +tic: synthetic_dev 99\.80 %, original_dev 76\.00 % +op: synthetic_dev 51\.00 % \(AT CHANCE\), original_dev 74\.00 %/);
  assert.match(text, /SHARED \(ORIG\) \[tic-op\] +0\.9877 +none/);
  assert.match(text, /WARNING: these models are at chance[^\n]*\n {2}op on synthetic_dev/);
  assert.equal(sig4(0.0123456), '0.01235');
});

test('the heatmap is drawn only where it shows more than the table', () => {
  assert.equal(heatmapAddsSomething(['a', 'b', 'c', 'd'], 2), false);
  assert.equal(heatmapAddsSomething(['a', 'b', 'c'], 3), true);
  assert.equal(heatmapAddsSomething(['a', 'b', 'c', 'd', 'e', 'f'], 4), false);
});
