// Fault-injection specs (`--inject`, passed to the ranks verbatim in RINGTREE_INJECT).
//
// A spec is a `;`-separated list of faults, each `kind:key=value:key=value`:
//   kill:rank=R:after-ops=N       rank R kills itself (SIGKILL) after completing N collective ops
//   hang:rank=R:after-ops=N       rank R stops making progress after N ops (never completes another)
//   delay:rank=R:ms=M             rank R sleeps M ms before every op
//   drop-conn:rank=R:after-ops=N  rank R closes its data connections after N ops
// The rank runtime implements the faults; the launcher only checks the syntax (and that the ranks
// exist) so a typo fails the launch with a clear message instead of silently injecting nothing.

import { LaunchError } from './errors.js';

export type FaultKind = 'kill' | 'hang' | 'delay' | 'drop-conn';

export interface Fault {
  kind: FaultKind;
  rank: number;
  afterOps?: number;
  ms?: number;
}

const keysByKind: Record<FaultKind, readonly string[]> = {
  kill: ['rank', 'after-ops'],
  hang: ['rank', 'after-ops'],
  delay: ['rank', 'ms'],
  'drop-conn': ['rank', 'after-ops'],
};

const usage =
  'expected a ";"-separated list of kill:rank=R:after-ops=N, hang:rank=R:after-ops=N, ' +
  'delay:rank=R:ms=M or drop-conn:rank=R:after-ops=N';

function parseCount(text: string, what: string, spec: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new LaunchError(`--inject "${spec}": ${what} must be a non-negative integer, got "${text}"`);
  }
  return Number(text);
}

/**
 * Parses and validates one or more inject specs (each may itself hold several `;`-separated faults).
 * With `worldSize`, rank numbers are also checked against it.
 */
export function parseInject(specs: readonly string[], worldSize?: number): Fault[] {
  const faults: Fault[] = [];
  for (const spec of specs) {
    const items = spec.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
    if (items.length === 0) throw new LaunchError(`--inject "${spec}": empty spec; ${usage}`);
    for (const item of items) {
      const [kindText, ...pairs] = item.split(':');
      if (!(kindText! in keysByKind)) {
        throw new LaunchError(`--inject "${item}": unknown fault "${kindText}"; ${usage}`);
      }
      const kind = kindText as FaultKind;
      const allowed = keysByKind[kind];
      const values = new Map<string, number>();
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        const key = eq < 0 ? pair : pair.slice(0, eq);
        if (eq < 0 || !allowed.includes(key)) {
          throw new LaunchError(`--inject "${item}": unexpected "${pair}"; ${kind} takes ${allowed.map((k) => `${k}=N`).join(' and ')}`);
        }
        if (values.has(key)) throw new LaunchError(`--inject "${item}": ${key} given twice`);
        values.set(key, parseCount(pair.slice(eq + 1), key, item));
      }
      for (const key of allowed) {
        if (!values.has(key)) throw new LaunchError(`--inject "${item}": missing ${key}=N; ${kind} takes ${allowed.map((k) => `${k}=N`).join(' and ')}`);
      }
      const rank = values.get('rank')!;
      if (worldSize !== undefined && rank >= worldSize) {
        throw new LaunchError(`--inject "${item}": rank ${rank} does not exist in a job of ${worldSize} rank${worldSize === 1 ? '' : 's'}`);
      }
      const fault: Fault = { kind, rank };
      if (values.has('after-ops')) fault.afterOps = values.get('after-ops')!;
      if (values.has('ms')) fault.ms = values.get('ms')!;
      faults.push(fault);
    }
  }
  return faults;
}

/** The RINGTREE_INJECT value for validated specs: the specs' own text, joined with `;`. */
export function injectEnvValue(specs: readonly string[]): string {
  return specs
    .flatMap((s) => s.split(';'))
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(';');
}
