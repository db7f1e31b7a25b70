// ringtree: collective communication for Node.js (public API, re-exports only).
export { init, type InitOptions } from './init.js';
export { Communicator, defaultTimeoutMs } from './communicator.js';
export {
  RingtreeError,
  InvalidArgumentError,
  TimeoutError,
  PeerError,
  MismatchError,
  AbortedError,
  SystemError,
  StoreError,
  BackendError,
  InternalError,
  type ErrorCode,
} from './errors.js';
export type {
  ReduceOp,
  Algorithm,
  DType,
  NumericArray,
  OpOptions,
  AllReduceOptions,
  BroadcastOptions,
  ReduceOptions,
  ReduceScatterOptions,
  P2POptions,
  CommStats,
  CommunicatorLike,
} from './types.js';
export { resolveJobEnv, type JobEnv } from './env.js';
export type { Store } from './rendezvous/store.js';
export { TcpStore, TcpStoreServer, FileStore, PrefixStore } from './rendezvous/index.js';
