import { dirname, relative, resolve } from 'node:path';
import type { CheckResult, TransferResult } from '../result.js';

/** A dataset's path relative to the current folder (results store it relative to the config). */
export function datasetPathFromCwd(result: CheckResult, datasetName: string, cwd = process.cwd()): string | undefined {
  const d = result.datasets.find((x) => x.name === datasetName);
  if (!d) return undefined;
  const abs = resolve(dirname(resolve(cwd, result.config.path)), d.path);
  return (relative(cwd, abs) || abs).split('\\').join('/');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const seconds = (ms: number) => (ms / 1000).toFixed(3);

function scoresText(r: TransferResult): string {
  return r.probe
    .map(
      (p, i) =>
        `seed ${p.seed}: probe ${p.value.toFixed(4)} ± ${p.stderr.toFixed(4)}, ` +
        `control ${r.control[i].value.toFixed(4)} ± ${r.control[i].stderr.toFixed(4)}`,
    )
    .join('\n');
}

/**
 * JUnit XML (the Ant/Jenkins dialect CI systems read): one <testsuite> per dataset, one <testcase> per trait x
 * evaluator. FAIL is a <failure>; INCONCLUSIVE is a <failure> when the policy fails the gate, else <skipped>.
 * Times are the students' summed training time (what the check cost, also when it came from the cache).
 */
export function formatJUnit(result: CheckResult): string {
  const byDataset = new Map<string, TransferResult[]>();
  for (const r of result.results) byDataset.set(r.dataset, [...(byDataset.get(r.dataset) ?? []), r]);
  const failing = (r: TransferResult) =>
    r.verdict === 'FAIL' || (r.verdict === 'INCONCLUSIVE' && result.inconclusivePolicy === 'fail');
  const time = (r: TransferResult) => [...r.probe, ...r.control].reduce((s, x) => s + x.trainMs, 0);
  const suites = [...byDataset.entries()].map(([dataset, rs]) => {
    const cases = rs.map((r) => {
      const name = `${r.trait} (${r.evaluator})`;
      const message = `${r.verdict}: ${r.explanation}`;
      const body = failing(r)
        ? `      <failure message="${xml(message)}" type="${r.verdict}">` +
          `${xml(`${message}\n${scoresText(r)}`)}</failure>\n`
        : r.verdict === 'INCONCLUSIVE'
          ? `      <skipped message="${xml(message)}"/>\n`
          : '';
      return (
        `    <testcase classname="distill-gate.${xml(dataset)}" name="${xml(name)}" time="${seconds(time(r))}">\n` +
        body +
        `      <system-out>${xml(`${message}\n${scoresText(r)}`)}</system-out>\n` +
        '    </testcase>\n'
      );
    });
    const failures = rs.filter(failing).length;
    const skipped = rs.filter((r) => r.verdict === 'INCONCLUSIVE' && !failing(r)).length;
    return (
      `  <testsuite name="${xml(dataset)}" tests="${rs.length}" failures="${failures}" errors="0" ` +
      `skipped="${skipped}" time="${seconds(rs.reduce((s, r) => s + time(r), 0))}" ` +
      `timestamp="${result.startedAt.slice(0, 19)}">\n` +
      cases.join('') +
      '  </testsuite>\n'
    );
  });
  const failures = result.results.filter(failing).length;
  const skipped = result.results.filter((r) => r.verdict === 'INCONCLUSIVE' && !failing(r)).length;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="distill-gate" tests="${result.results.length}" failures="${failures}" errors="0" ` +
    `skipped="${skipped}" time="${seconds(result.results.reduce((s, r) => s + time(r), 0))}">\n` +
    suites.join('') +
    '</testsuites>\n'
  );
}

/** SARIF 2.1.0: one rule per trait, one result per dataset x trait x evaluator, located at the dataset file. */
export function formatSarif(result: CheckResult, cwd = process.cwd()): string {
  const traits = [...new Set(result.results.map((r) => r.trait))];
  const sarif = {
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: result.tool.name,
            version: result.tool.version,
            rules: traits.map((t) => ({
              id: t,
              name: t
                .replace(/^@[^/]+\//, '')
                .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : '')),
              shortDescription: {
                text: `The dataset transfers the trait ${t} to students that share the teacher's base.`,
              },
              defaultConfiguration: { level: 'error' },
            })),
          },
        },
        invocations: [{ executionSuccessful: true, startTimeUtc: result.startedAt }],
        results: result.results.map((r) => {
          const uri = datasetPathFromCwd(result, r.dataset, cwd);
          return {
            ruleId: r.trait,
            ruleIndex: traits.indexOf(r.trait),
            kind: r.verdict === 'PASS' ? 'pass' : 'fail',
            level: r.verdict === 'PASS' ? 'none' : r.verdict === 'FAIL' ? 'error' : 'warning',
            message: { text: `${r.dataset}: ${r.verdict}: ${r.explanation}.` },
            ...(uri ? { locations: [{ physicalLocation: { artifactLocation: { uri } } }] } : {}),
            properties: {
              verdict: r.verdict,
              evaluator: r.evaluator,
              metric: r.metric,
              transfer: r.transfer.mean,
              interval: r.transfer.interval,
              threshold: r.threshold,
              pValue: r.pValue,
              seeds: r.probe.map((p) => p.seed),
              backend: result.backend.name,
            },
          };
        }),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
