/**
 * The run (date and machine) every bench section of a test fixture carries, so report, publish and
 * format tests build their sections alike.
 */
import type { RunInfo } from '../../../bench/results';

/** A run finished at `finishedAt` on a 2-core, 8 GiB test machine named `cpus`. */
export const fixtureRun = (finishedAt: string, cpus = 'Test CPU 9000'): RunInfo => ({
  node: 'v20.0.0',
  cpus,
  cores: 2,
  memoryGiB: 8,
  finishedAt,
});
