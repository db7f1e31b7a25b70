// `ringtree/tfjs`: picks a TensorFlow.js compute engine and makes it the active backend.
//
//   const { tf, name, backend } = await loadEngine({ engine: 'auto' });
//
// auto: @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (both optional: absent or broken
// installs are skipped), then `ringtree-cpu` — pure-JS tfjs with ringtree's native kernels, registered
// as its own backend beside the untouched `cpu` one (tf.setBackend('cpu') still gives pure JS).
// No top-level await, so `require('ringtree/tfjs')` works as well as `import`.
import { createRequire } from 'node:module';
import type * as Tf from '@tensorflow/tfjs';
import type * as TfCore from '@tensorflow/tfjs-core';
import { BACKEND_NAME, RingtreeCpuBackend } from './backend.js';
import { countRun, kernelStats, makeImpls, RELU_GRAD, reluGradKernel } from './kernels.js';
import { nativeKernels, type NativeKernels } from './native.js';

export { BACKEND_NAME, RingtreeCpuBackend } from './backend.js';
export { BufferPool } from './pool.js';
export { kernelStats } from './kernels.js';
export { nativeKernels, type NativeKernels } from './native.js';

const require = createRequire(import.meta.url);

export type EngineName = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'ringtree-cpu' | 'cpu';
export type TfNamespace = typeof Tf;

export interface LoadEngineOptions {
  engine?: EngineName;
  /** Intra-op threads for ringtree-cpu (default: RINGTREE_NUM_THREADS, else cores / local ranks). */
  threads?: number;
  /** Do not print the chosen engine (it is printed once per process otherwise; RINGTREE_DEBUG forces it). */
  quiet?: boolean;
}

export interface Engine {
  tf: TfNamespace;
  /** The engine that was chosen: 'tfjs-node-gpu' | 'tfjs-node' | 'ringtree-cpu' | 'cpu'. */
  name: Exclude<EngineName, 'auto'>;
  /** The tfjs backend name now active ('tensorflow', 'ringtree-cpu' or 'cpu'). */
  backend: string;
  /** Human-readable details: GEMM implementation and thread count for ringtree-cpu. */
  details: string;
}

/** The pure-JS tfjs namespace (with the `cpu` backend). */
export function tfjs(): TfNamespace {
  return require('@tensorflow/tfjs') as TfNamespace;
}

let registered = false;
let printed = false;

/**
 * Registers the `ringtree-cpu` backend (idempotent): every kernel config of `cpu` is copied, then the
 * native kernels override the hot ones, each falling back to the cpu kernel for what it does not handle.
 */
export function registerRingtreeCpu(): NativeKernels {
  const k = nativeKernels();
  const tf = tfjs();
  if (registered && tf.findBackendFactory(BACKEND_NAME)) return k;
  const core = tf as unknown as typeof TfCore;
  if (!core.findBackendFactory(BACKEND_NAME)) core.registerBackend(BACKEND_NAME, () => new RingtreeCpuBackend(), 0);
  const cpuKernels = core.getKernelsForBackend('cpu');
  const byName = new Map<string, TfCore.KernelConfig>();
  for (const cfg of cpuKernels) {
    byName.set(cfg.kernelName, cfg);
    if (!core.getKernel(cfg.kernelName, BACKEND_NAME)) core.registerKernel({ ...cfg, backendName: BACKEND_NAME });
  }
  const impls = makeImpls(k);
  for (const [name, impl] of Object.entries(impls)) {
    const jsCfg = byName.get(name);
    if (!jsCfg) continue;  // no cpu kernel of that name in this tfjs version: nothing to override
    const js = jsCfg.kernelFunc;
    const kernelFunc: TfCore.KernelFunc = (args) => {
      const out = impl(args.inputs as Record<string, TfCore.TensorInfo>, args.backend as RingtreeCpuBackend, (args.attrs ?? {}) as Record<string, unknown>);
      if (out) {
        countRun(name, true);
        return out;
      }
      countRun(name, false);
      return js(args);
    };
    core.unregisterKernel(name, BACKEND_NAME);
    core.registerKernel({ kernelName: name, backendName: BACKEND_NAME, kernelFunc });
  }
  if (!core.getKernel(RELU_GRAD, BACKEND_NAME)) core.registerKernel({ kernelName: RELU_GRAD, backendName: BACKEND_NAME, kernelFunc: reluGradKernel(k) });
  installReluGradient(core);
  registered = true;
  return k;
}

let reluGradient = false;

/**
 * tfjs' ReLU gradient is mul(dy, step(x)): two passes over the activation and a temporary. On
 * ringtree-cpu it runs as one fused kernel with the same arithmetic (bitwise the same result); on any
 * other backend the original gradient runs unchanged. The fused kernel has its own gradient, so
 * higher-order gradients through ReLU still work.
 */
function installReluGradient(core: typeof TfCore): void {
  if (reluGradient) return;
  const orig = core.getGradient('Relu');
  if (!orig?.gradFunc) return;
  core.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as TfCore.Tensor;
      if (core.getBackend() !== BACKEND_NAME || d.dtype !== 'float32' || x.dtype !== 'float32') return orig.gradFunc(dy, saved, attrs);
      return { x: () => core.engine().runKernel(RELU_GRAD, { dy: d, x }) as TfCore.Tensor };
    },
  });
  // d/d(dy) of dy * step(x) is step(x) again; d/dx is 0 (step's own gradient in tfjs).
  core.registerGradient({
    kernelName: RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (ddy, saved) => {
      const [x] = saved;
      return { dy: () => core.engine().runKernel(RELU_GRAD, { dy: ddy as TfCore.Tensor, x }) as TfCore.Tensor, x: () => core.zerosLike(x) };
    },
  });
  reluGradient = true;
}

/** Names of the kernels that have a native implementation. */
export function nativeKernelNames(): string[] {
  return Object.keys(makeImpls({} as NativeKernels));
}

async function tryImport(mod: string): Promise<TfNamespace | null> {
  try {
    const m = (await import(mod)) as { default?: TfNamespace } & TfNamespace;
    const tf = (m.default && typeof m.default.setBackend === 'function' ? m.default : m) as TfNamespace;
    if (typeof tf.setBackend !== 'function') return null;
    return tf;
  } catch {
    return null;
  }
}

async function useNode(mod: string): Promise<TfNamespace | null> {
  const tf = await tryImport(mod);
  if (!tf) return null;
  try {
    if (!(await tf.setBackend('tensorflow'))) return null;
    await tf.ready();
    return tf;
  } catch {
    return null;
  }
}

/** Loads the requested engine and makes it tfjs' active backend. */
export async function loadEngine(opts: LoadEngineOptions = {}): Promise<Engine> {
  const want = opts.engine ?? 'auto';
  const valid: EngineName[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'ringtree-cpu', 'cpu'];
  if (!valid.includes(want)) throw new TypeError(`unknown engine '${String(want)}' (expected one of ${valid.join(', ')})`);
  let engine: Engine | null = null;
  for (const name of ['tfjs-node-gpu', 'tfjs-node'] as const) {
    if (want !== name && want !== 'auto') continue;
    const tf = await useNode(`@tensorflow/${name}`);
    if (tf) { engine = { tf, name, backend: tf.getBackend(), details: 'libtensorflow' }; break; }
    if (want === name) throw new Error(`engine ${name} is not available: install @tensorflow/${name} (it downloads libtensorflow)`);
  }
  if (!engine && (want === 'auto' || want === 'ringtree-cpu')) {
    const tf = tfjs();
    try {
      const k = registerRingtreeCpu();
      if (opts.threads !== undefined) k.setNumThreads(opts.threads);
      if (!(await tf.setBackend(BACKEND_NAME))) throw new Error('tf.setBackend(ringtree-cpu) failed');
      await tf.ready();
      const i = k.info();
      engine = { tf, name: 'ringtree-cpu', backend: BACKEND_NAME, details: `gemm ${i.gemm}, ${i.threads} thread${i.threads === 1 ? '' : 's'}` };
    } catch (e) {
      if (want === 'ringtree-cpu') throw e;
    }
  }
  if (!engine) {
    const tf = tfjs();
    await tf.setBackend('cpu');
    await tf.ready();
    engine = { tf, name: 'cpu', backend: 'cpu', details: 'pure JavaScript' };
  }
  if ((!opts.quiet && !printed) || process.env.RINGTREE_DEBUG) {
    printed = true;
    process.stderr.write(`ringtree: tfjs engine ${engine.name} (backend ${engine.backend}; ${engine.details})\n`);
  }
  return engine;
}

/** Sets the intra-op thread count of the native kernels (0 = default); returns the count in effect. */
export function setNumThreads(n: number): number {
  return nativeKernels().setNumThreads(n);
}

/** Selects the GEMM: 'auto' (RINGTREE_BLAS), 'own', 'openblas' (false if not built in), 'portable'. */
export function setGemm(which: 'auto' | 'own' | 'openblas' | 'portable'): boolean {
  return nativeKernels().setGemm({ auto: 0, own: 1, openblas: 2, portable: 3 }[which]);
}

export default { loadEngine, registerRingtreeCpu, setNumThreads, setGemm, tfjs, kernelStats };
