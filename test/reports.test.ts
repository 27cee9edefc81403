/// <reference lib="dom" />
// The report projections of a real check: JUnit XML and SARIF validated against schemas, and the HTML report
// rendered in a real headless browser (Debian's chromium, driven by playwright-core).
// One check runs in beforeAll (a fixture folder, removed afterwards); the tests only read its reports.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { example, removeDir, root, runCli, scaledExampleConfig, testDir } from './helpers.js';

const require = createRequire(import.meta.url);
let dir: string;
let report: string;

const has = (cmd: string) => {
  try {
    execFileSync('which', [cmd]);
    return true;
  } catch {
    return false;
  }
};
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
let sarifSchemaPath: string | undefined;
try {
  sarifSchemaPath = join(require.resolve('@microsoft/sarif-multitool-linux/package.json'), '..', 'sarif-2.1.0.json');
} catch {
  sarifSchemaPath = undefined; // optional dependency, Linux only
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dg-reports-'));
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(scaledExampleConfig(), null, 2));
  const check = await runCli(['check', '--no-progress', '--no-cache'], dir);
  expect(check.code, check.stderr).toBe(1);
  report = join(dir, 'distill-gate-report');
}, 180_000);

afterAll(() => removeDir(dir));

describe('JUnit XML', () => {
  it('has one failing test case for the FAIL and a passing one for the PASS', () => {
    const x = readFileSync(join(report, 'junit.xml'), 'utf8');
    expect(x).toMatch(/<testsuites name="distill-gate" tests="2" failures="1" errors="0" skipped="0"/);
    expect(x).toMatch(/<testsuite name="teacher-aux-logits" tests="1" failures="1"/);
    expect(x).toMatch(/<testsuite name="reference-aux-logits" tests="1" failures="0"/);
    expect(x).toContain('<failure message="FAIL: transfer');
  });
  it.skipIf(!has('xmllint'))('is valid against the JUnit schema (xmllint --schema test/fixtures/junit.xsd)', () => {
    const out = execFileSync(
      'xmllint',
      ['--noout', '--schema', join(root, 'test/fixtures/junit.xsd'), join(report, 'junit.xml')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toBe('');
  });
});

describe('SARIF', () => {
  it.skipIf(!sarifSchemaPath)('is valid against the official SARIF 2.1.0 schema', () => {
    const schema = JSON.parse(readFileSync(sarifSchemaPath!, 'utf8'));
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const sarif = JSON.parse(readFileSync(join(report, 'results.sarif'), 'utf8'));
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    const results = sarif.runs[0].results;
    expect(results.map((r: any) => [r.kind, r.level])).toEqual([
      ['fail', 'error'],
      ['pass', 'none'],
    ]);
    expect(results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('data/teacher-aux-logits.safetensors');
  });
});

describe('HTML report', () => {
  it.skipIf(!chromium)('renders in headless chromium with the verdicts and plots and no console errors', async () => {
    const { chromium: pw } = await import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) problems.push(`external request ${r.url()}`);
      });
      await page.goto(`file://${join(report, 'report.html')}`);
      expect(await page.textContent('#verdict')).toBe('FAIL');
      const badges = await page.locator('section.result .badge').allTextContents();
      expect(badges).toEqual(['FAIL', 'PASS']);
      expect(await page.locator('svg').count()).toBe(1 + 2 * 2);
      expect(await page.locator('svg circle').count()).toBeGreaterThan(10);
      const png = join(testDir('dg-report-png-'), 'report.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(statSync(png).size).toBeGreaterThan(10_000);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

/**
 * The page as people see it: on a laptop (1280x800) and a phone (390 px wide), in the light and the dark colour
 * scheme. Every plot and every text in it lies inside the viewport, no label runs out of its plot, the page does not
 * scroll sideways, legend keys have their series' colours, and text stands out from the background.
 * DISTILL_GATE_SCREENSHOTS=<dir> keeps the four screenshots (docs/report-screenshots/ holds the committed ones).
 */
describe('HTML report layout', () => {
  const views = [
    { name: 'desktop', width: 1280, height: 800 },
    { name: 'phone', width: 390, height: 844 },
  ];
  for (const view of views)
    for (const scheme of ['light', 'dark'] as const)
      it.skipIf(!chromium)(`${view.name} ${view.width}x${view.height}, ${scheme}`, async () => {
        const { chromium: pw } = await import('playwright-core');
        const browser = await pw.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu'] });
        try {
          const page = await browser.newPage({
            viewport: { width: view.width, height: view.height },
            colorScheme: scheme,
            deviceScaleFactor: 1,
          });
          await page.goto(`file://${join(report, 'report.html')}`);
          const layout = await page.evaluate(() => {
            const W = document.documentElement.clientWidth;
            const problems: string[] = [];
            const inside = (a: DOMRect, b: DOMRect, slack = 1) =>
              a.left >= b.left - slack &&
              a.right <= b.right + slack &&
              a.top >= b.top - slack &&
              a.bottom <= b.bottom + slack;
            for (const svg of Array.from(document.querySelectorAll('svg'))) {
              const box = svg.getBoundingClientRect();
              if (box.left < 0 || box.right > W + 1)
                problems.push(`svg ${svg.getAttribute('aria-label')} leaves the viewport`);
              for (const t of Array.from(svg.querySelectorAll('text'))) {
                const r = t.getBoundingClientRect();
                if (r.width > 0 && !inside(r, box)) problems.push(`"${t.textContent}" runs out of its plot`);
              }
            }
            const fillOf = (sel: string) => {
              const el = document.querySelector(sel);
              return el ? getComputedStyle(el).fill : 'missing';
            };
            const strokeOf = (sel: string) => {
              const el = document.querySelector(sel);
              return el ? getComputedStyle(el).stroke : 'missing';
            };
            const body = getComputedStyle(document.body);
            return {
              problems,
              scrollWidth: document.documentElement.scrollWidth,
              width: W,
              legend: {
                probeKey: fillOf('.legend-probe'),
                probeMark: fillOf('circle.series-probe'),
                probeLine: strokeOf('polyline.series-probe'),
                controlKey: fillOf('.legend-control'),
                controlMark: fillOf('circle.series-control'),
                controlLine: strokeOf('polyline.series-control'),
              },
              background: body.backgroundColor,
              text: body.color,
              label: fillOf('text.label'),
            };
          });
          expect(layout.problems).toEqual([]);
          expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
          const { legend } = layout;
          expect(legend.probeKey).not.toBe('missing');
          expect([legend.probeMark, legend.probeLine]).toEqual([legend.probeKey, legend.probeKey]);
          expect([legend.controlMark, legend.controlLine]).toEqual([legend.controlKey, legend.controlKey]);
          expect(legend.probeKey).not.toBe(legend.controlKey);
          // Contrast: relative luminance of text and labels against the page background (WCAG ratio >= 4.5).
          const lum = (c: string) => {
            const [r, g, b] = (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
              const x = Number(v) / 255;
              return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const ratio = (a: string, b: string) => {
            const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
            return (x + 0.05) / (y + 0.05);
          };
          expect(ratio(layout.text, layout.background)).toBeGreaterThan(4.5);
          expect(ratio(layout.label, layout.background)).toBeGreaterThan(4.5);
          expect(lum(layout.background) < 0.1).toBe(scheme === 'dark');
          const out = process.env.DISTILL_GATE_SCREENSHOTS;
          const png = join(out ? join(root, out) : testDir('dg-layout-'), `report-${view.name}-${scheme}.png`);
          await page.screenshot({ path: png });
          expect(statSync(png).size).toBeGreaterThan(5_000);
        } finally {
          await browser.close();
        }
      });
});
