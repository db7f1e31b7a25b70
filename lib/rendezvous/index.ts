// Rendezvous stores: the Store interface and its implementations (re-exports only).

export type { Store } from './store.js';
export { TcpStore, type TcpStoreOptions } from './tcp-store.js';
export { TcpStoreServer, type TcpStoreServerOptions } from './tcp-store-server.js';
export { FileStore, type FileStoreOptions } from './file-store.js';
export { HashStore } from './hash-store.js';
export { PrefixStore } from './prefix-store.js';
export { defaultStoreTimeoutMs, formatHostPort } from './common.js';
export { maxFrameBytes, maxKeyBytes, maxKeysPerRequest, maxValueBytes, protocolVersion } from './protocol.js';
