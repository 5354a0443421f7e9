// The report in a real browser: Debian's headless Chromium driven by playwright-core. The page
// must load with no console errors and no requests beyond its own file, every chart must draw
// marks with a non-zero size, and a full-page screenshot goes to test-output/report.png (ignored
// by git) for a human to look at. Fixtures: test/fixtures/report/ (see make_fixtures.py there).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import stage from '../../stages/report/stage.js';
import { makeStageContext } from '../helpers/stage-context.js';
import { fullInputs, fusionInputs, pipelineFixture, repoRoot } from './fixture-paths.js';
import type { ReportInputs } from '../../stages/report/stage.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CHARTS = ['overlap-heatmap', 'layer-bars', 'training-curves', 'dag'];

// The callbacks given to page.evaluate run in the browser, but this is a Node project without the
// DOM lib; the few DOM members they use are declared here, local to this module.
interface DomBox { width: number; height: number }
interface DomElement {
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): Iterable<DomElement> & { length: number };
  getBoundingClientRect(): DomBox;
  getBBox(): DomBox;
  append(child: DomElement): void;
}
declare const document: {
  documentElement: { tagName: string };
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement> & { length: number };
  createElement(tag: 'img'): DomElement & { src: string };
  body: DomElement;
};

let browser: BrowserContext;
let profile: string;

async function renderReport(inputs: ReportInputs, withPipeline: boolean): Promise<string> {
  const ctx = makeStageContext(inputs, { stage: 'report' });
  if (withPipeline) ctx.pipeline = pipelineFixture();
  await stage.run(ctx);
  return join(ctx.outDir, 'report.html');
}

interface PageProblems {
  console: string[];
  failed: string[];
  foreign: string[];
}

/** Opens a report and records everything that would mean it is not self-contained or broken. */
async function open(file: string): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage();
  const url = pathToFileURL(file).href;
  const problems: PageProblems = { console: [], failed: [], foreign: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.console.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('request', (r) => { if (r.url() !== url && !r.url().startsWith('data:')) problems.foreign.push(r.url()); });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

/** A full-page screenshot into test-output/ (ignored by git) for a human to look at. */
async function screenshot(page: Page, name: string): Promise<void> {
  const outDir = join(repoRoot(), 'test-output');
  mkdirSync(outDir, { recursive: true });
  const shot = join(outDir, name);
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000, 'screenshot written');
}

before(async () => {
  profile = mkdtempSync(join(tmpdir(), 'ff-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 900 },
    timeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the full report loads cleanly, every chart draws, and a screenshot is written', { timeout: 90_000 }, async () => {
  const { page, problems } = await open(await renderReport(fullInputs(), true));
  assert.deepEqual(problems, { console: [], failed: [], foreign: [] });

  for (const chart of CHARTS) {
    const info = await page.evaluate((name) => {
      const svg = document.querySelector(`svg[data-chart="${name}"]`);
      if (!svg) return null;
      const box = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll('.mark')];
      const drawn = marks.filter((m) => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length;
      return { width: box.width, height: box.height, marks: marks.length, drawn };
    }, chart);
    assert.ok(info, `chart ${chart} is in the page`);
    assert.ok(info.width > 100 && info.height > 50, `chart ${chart} has a size (${info.width}×${info.height})`);
    assert.ok(info.marks > 0 && info.drawn === info.marks, `chart ${chart} draws its marks (${info.drawn}/${info.marks})`);
  }
  // 6 Fishers → 36 cells; 27 groups × 2 kinds of bars; 3 model curves; 18 stages.
  const counts = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('svg[data-chart]')]
    .map((s) => [s.getAttribute('data-chart'), s.querySelectorAll('.mark').length])));
  assert.equal(counts['overlap-heatmap'], 36);
  assert.equal(counts['layer-bars'], 54);
  assert.ok(await page.getByText('UNSHARED (TiC-OP) OVERLAP: 0.7241').isVisible());

  await screenshot(page, 'report.png');
  await page.close();
});

test('the standalone figures are well-formed SVG documents', { timeout: 60_000 }, async () => {
  const report = await renderReport(fullInputs(), true);
  const figures = join(dirname(report), 'figures');
  const files = readdirSync(figures);
  assert.equal(files.length, 11);
  for (const file of files) {
    const { page, problems } = await open(join(figures, file));
    assert.deepEqual(problems, { console: [], failed: [], foreign: [] }, file);
    // An XML syntax error makes Chromium show a <parsererror> page instead of the drawing.
    const root = await page.evaluate(() => ({
      tag: document.documentElement.tagName,
      parserError: document.querySelector('parsererror') !== null,
      marks: document.querySelectorAll('.mark').length,
    }));
    assert.deepEqual({ tag: root.tag, parserError: root.parserError }, { tag: 'svg', parserError: false }, file);
    assert.ok(root.marks > 0, `${file} draws marks`);
    await page.close();
  }
});

test('an empty report (no overlap, no training, no pipeline) also loads cleanly', { timeout: 60_000 }, async () => {
  const { page, problems } = await open(await renderReport({}, false));
  assert.deepEqual(problems, { console: [], failed: [], foreign: [] });
  assert.ok(await page.getByText('No training in this pipeline.').isVisible());
  assert.ok(await page.getByText('No overlap in this pipeline.').isVisible());
  await page.close();
});

test('the Content-Security-Policy really blocks external loads (so the first test can trust silence)', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  const messages: string[] = [];
  page.on('console', (m) => messages.push(m.text()));
  const file = await renderReport({}, false);
  await page.goto(pathToFileURL(file).href);
  // Inject an external image after load, as a stray CDN reference would be.
  await page.evaluate(() => {
    const img = document.createElement('img');
    img.src = 'https://example.invalid/x.png';
    document.body.append(img);
  });
  await page.waitForTimeout(200);
  assert.ok(messages.some((m) => /Content Security Policy/i.test(m)), `CSP violation reported: ${messages.join(' | ')}`);
  await page.close();
});

test('the paper\'s experiment (fusion table, interpolation curves) loads cleanly and its links land on the overlaps', { timeout: 90_000 }, async () => {
  const { page, problems } = await open(await renderReport(fusionInputs(), true));
  assert.deepEqual(problems, { console: [], failed: [], foreign: [] });
  const charts = await page.evaluate(() => [...document.querySelectorAll('svg[data-chart="interpolation"]')].map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('.mark')];
    return { width: box.width, height: box.height, marks: marks.length, drawn: marks.filter((m) => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length };
  }));
  assert.equal(charts.length, 3);
  // 4 sets per pair: a line and 5 markers each.
  for (const c of charts) assert.ok(c.width > 100 && c.height > 50 && c.marks === 24 && c.drawn === 24, JSON.stringify(c));
  assert.ok(await page.locator('table.fusion-table').isVisible());
  assert.equal(await page.locator('table.fusion-table tbody tr').count(), 8);
  // Every link in the new sections points at a section of the page.
  const targets = await page.evaluate(() => [...document.querySelectorAll('#fusion a, #interpolation a')].map((a) => a.getAttribute('href')!.slice(1))
    .map((id) => document.querySelector(`[id="${id}"]`) !== null));
  assert.ok(targets.length === 6 && targets.every(Boolean), JSON.stringify(targets));
  // The models at chance on original_dev (op 57.5 % and tic 53.4 % of 146) are flagged at the top
  // and beside every overlap that uses them; every overlap has its interval column.
  const banner = page.locator('#at-chance');
  assert.ok(await banner.isVisible());
  assert.match(await banner.innerText(), /op on original_dev: 57\.5 % \(95 % CI [\d.]+–[\d.]+ %, n = 146\) is within reach of chance/);
  assert.match(await banner.innerText(), /tic on original_dev/);
  assert.doesNotMatch(await banner.innerText(), /st on original_dev/);
  assert.ok(await page.locator('table.overlap-table span.warn').first().isVisible());
  assert.equal(await page.locator('table.overlap-table th', { hasText: '95% interval' }).count(), 3);
  // One per-pair, per-layer chart per overlap file; per-epoch charts per trained model.
  assert.equal(await page.locator('svg[data-chart="layer-bars-per-pair"]').count(), 3);
  assert.equal(await page.locator('svg[data-chart="epoch-accuracy"]').count(), 3);
  assert.equal(await page.locator('svg[data-chart="epoch-loss"]').count(), 3);
  await screenshot(page, 'report-fusion.png');
  await page.close();
});
