/** Mean ms per call of `step` after `warmup` calls; `sync` waits for the backend (reads a weight back). */
export function msPerStep(step: () => void, sync: () => void, steps: number, warmup = 2): number {
  for (let i = 0; i < warmup; i++) step();
  sync();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  sync();
  return (performance.now() - t0) / steps;
}
