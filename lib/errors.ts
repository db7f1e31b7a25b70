// Typed errors. Every error ringtree raises is a RingtreeError with a stable `code`, and where it
// applies the op, sequence number, rank and peer it concerns.

export type ErrorCode =
  | 'ERR_RINGTREE_INVALID_ARGUMENT'
  | 'ERR_RINGTREE_TIMEOUT'
  | 'ERR_RINGTREE_PEER'
  | 'ERR_RINGTREE_MISMATCH'
  | 'ERR_RINGTREE_ABORTED'
  | 'ERR_RINGTREE_SYSTEM'
  | 'ERR_RINGTREE_STORE'
  | 'ERR_RINGTREE_BACKEND'
  | 'ERR_RINGTREE_INTERNAL';

export interface ErrorContext {
  op?: string;
  seq?: number;
  rank?: number;
  peer?: number;
  cause?: unknown;
}

export class RingtreeError extends Error {
  readonly code: ErrorCode;
  // `declare`: set only when known, so printed errors show no undefined fields
  declare op?: string;
  declare seq?: number;
  declare rank?: number;
  declare peer?: number;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = this.constructor.name;
    this.code = code;
    if (context.op !== undefined) this.op = context.op;
    if (context.seq !== undefined) this.seq = context.seq;
    if (context.rank !== undefined) this.rank = context.rank;
    if (context.peer !== undefined) this.peer = context.peer;
  }
}

export class InvalidArgumentError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_INVALID_ARGUMENT', message, context); }
}
export class TimeoutError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_TIMEOUT', message, context); }
}
export class PeerError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_PEER', message, context); }
}
export class MismatchError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_MISMATCH', message, context); }
}
export class AbortedError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_ABORTED', message, context); }
}
export class SystemError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_SYSTEM', message, context); }
}
export class StoreError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_STORE', message, context); }
}
export class BackendError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_BACKEND', message, context); }
}
export class InternalError extends RingtreeError {
  constructor(message: string, context?: ErrorContext) { super('ERR_RINGTREE_INTERNAL', message, context); }
}

const byCode: Record<ErrorCode, new (message: string, context?: ErrorContext) => RingtreeError> = {
  ERR_RINGTREE_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_RINGTREE_TIMEOUT: TimeoutError,
  ERR_RINGTREE_PEER: PeerError,
  ERR_RINGTREE_MISMATCH: MismatchError,
  ERR_RINGTREE_ABORTED: AbortedError,
  ERR_RINGTREE_SYSTEM: SystemError,
  ERR_RINGTREE_STORE: StoreError,
  ERR_RINGTREE_BACKEND: BackendError,
  ERR_RINGTREE_INTERNAL: InternalError,
};

/** Builds the typed error for a code (unknown codes become InternalError). */
export function makeError(code: string, message: string, context?: ErrorContext): RingtreeError {
  const Ctor = byCode[code as ErrorCode] ?? InternalError;
  return new Ctor(message, context);
}

/**
 * Converts whatever a native or internal failure threw into a RingtreeError carrying the caller's
 * stack (captured before the first await, as sharp does), so the rejection points at user code.
 */
export function toRingtreeError(error: unknown, stack: Error | undefined, context: ErrorContext): RingtreeError {
  let out: RingtreeError;
  if (error instanceof RingtreeError) {
    out = error;
    for (const key of ['op', 'seq', 'rank', 'peer'] as const) {
      if (out[key] === undefined && context[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = context[key];
    }
  } else {
    // created here, after the caller's await: V8's async stack trace puts the caller's frames in it
    const e = error as { code?: string; message?: string; seq?: number; peer?: number; rank?: number; op?: string } | undefined;
    const code = typeof e?.code === 'string' && e.code.startsWith('ERR_RINGTREE_') ? e.code : 'ERR_RINGTREE_INTERNAL';
    out = makeError(code, e?.message ?? String(error), {
      op: e?.op ?? context.op,
      seq: e?.seq ?? context.seq,
      rank: e?.rank ?? context.rank,
      peer: e?.peer ?? context.peer,
    });
  }
  if (stack?.stack) {
    const frames = stack.stack.split('\n').slice(1).join('\n');
    out.stack = `${out.name} [${out.code}]: ${out.message}\n${frames}`;
  }
  return out;
}
