// Engine adapter: the trainer runs on whatever ringtree/tfjs's loadEngine returns (tfjs-node-gpu,
// tfjs-node, ringtree-cpu kernels or plain cpu). It never imports tfjs-node itself. When the engine module
// is not available, it falls back to @tensorflow/tfjs on its pure-JS 'cpu' backend, with a warning.

import type * as tfc from '@tensorflow/tfjs-core';

/** The TF.js API the trainer uses (tfjs-core's namespace; tfjs-node exposes the same). */
export type TF = typeof tfc;

export const ENGINE_NAMES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'ringtree-cpu', 'cpu'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface TrainEngine {
  tf: TF;
  /** Engine that was chosen, e.g. 'tfjs-node' or 'ringtree-cpu'. */
  name: string;
  /** Active TF.js backend, e.g. 'tensorflow', 'ringtree-cpu', 'cpu'. */
  backend: string;
}

interface LoadEngineModule {
  loadEngine(options: { engine: EngineName; quiet?: boolean }): Promise<{ tf: unknown; name: string; backend: string }>;
}

export interface LoadTrainEngineOptions {
  /** Suppress the engine loader's own banner (ranks other than 0). */
  quiet?: boolean;
  warn?: (msg: string) => void;
}

const ENGINE_MODULE = '../tfjs/index.js';

function isModuleNotFound(error: unknown, specifierHint: string): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && String(e.message ?? '').includes(specifierHint);
}

export async function loadTrainEngine(engine: EngineName = 'auto', options: LoadTrainEngineOptions | ((msg: string) => void) = {}): Promise<TrainEngine> {
  const opts = typeof options === 'function' ? { warn: options } : options;
  const warn = opts.warn ?? ((m: string) => process.emitWarning(m));
  if (!ENGINE_NAMES.includes(engine)) throw new RangeError(`unknown engine '${engine}' (expected ${ENGINE_NAMES.join(', ')})`);
  let mod: Partial<LoadEngineModule> | undefined;
  try {
    mod = (await import(ENGINE_MODULE)) as Partial<LoadEngineModule>;
  } catch (error) {
    if (!isModuleNotFound(error, 'tfjs')) throw error;
  }
  if (typeof mod?.loadEngine === 'function') {
    const r = await mod.loadEngine({ engine, quiet: opts.quiet ?? false });
    return { tf: r.tf as TF, name: r.name, backend: r.backend };
  }
  if (engine !== 'auto' && engine !== 'cpu') {
    throw new Error(`engine '${engine}' needs ringtree's engine loader (lib/tfjs), which is not available in this build`);
  }
  warn("ringtree/tfjs engine loader not available: using @tensorflow/tfjs on the pure-JS 'cpu' backend (slow)");
  const tf = (await import('@tensorflow/tfjs')) as unknown as TF;
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, name: 'cpu', backend: tf.getBackend() };
}
