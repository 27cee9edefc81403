import { totalmem } from 'node:os';

/** The memory this process can use: the machine's, or its cgroup's limit where that is lower. */
export function availableMemory(): number {
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const total = totalmem();
  return limit && limit > 0 && limit < total ? limit : total;
}
