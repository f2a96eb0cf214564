/** Captures the EMF lines a synchronous block writes to stdout (Powertools writes through its own Console on process.stdout). */

/** One EMF line as Powertools writes it. */
export interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  service: string;
  [metric: string]: unknown;
}

/** The EMF lines `fn` writes to stdout, parsed; anything else it writes is dropped. */
export function emfLines(fn: () => void): Emf[] {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return out
    .join('')
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Emf);
}
