/**
 * Whether to colour what goes to a stream: NO_COLOR (any non-empty value; no-color.org) turns colour off, a non-empty
 * FORCE_COLOR other than 0 or false turns it on (and wins over NO_COLOR, as in Node.js), else colour only on a
 * terminal that is not "dumb".
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}
