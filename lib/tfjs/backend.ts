// The `ringtree-cpu` tfjs backend: a MathBackendCPU (so every pure-JS cpu kernel works on it
// unchanged) whose hot kernels are replaced by native ones, with pooled output buffers.
import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';
import type * as TfCpu from '@tensorflow/tfjs-backend-cpu';
import { BufferPool } from './pool.js';

const require = createRequire(import.meta.url);
export const tfc: typeof TfCore = require('@tensorflow/tfjs-core');
const cpu: typeof TfCpu = require('@tensorflow/tfjs-backend-cpu');

export const BACKEND_NAME = 'ringtree-cpu';

type DataId = object;

/** MathBackendCPU plus an output-buffer pool recycled when tfjs disposes tensors. */
export class RingtreeCpuBackend extends cpu.MathBackendCPU {
  readonly pool = new BufferPool();

  constructor() {
    super();
    // The pure-JS backend warns on first use that it is slow; this one is not.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override write(values: TfCore.backend_util.BackendValues, shape: number[], dtype: TfCore.DataType): DataId {
    const id = super.write(values, shape, dtype);
    this.pool.onWrite(values, id);
    return id;
  }

  override move(dataId: DataId, values: TfCore.backend_util.BackendValues, shape: number[], dtype: TfCore.DataType,
    refCount: number): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.pool.onEscape(values);
  }

  override readSync(dataId: DataId): TfCore.backend_util.BackendValues {
    const v = super.readSync(dataId);
    this.pool.onEscape(v);
    return v;
  }

  override read(dataId: DataId): Promise<TfCore.backend_util.BackendValues> {
    const v = this.data.get(dataId)?.values;
    this.pool.onEscape(v);
    return super.read(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const had = this.data.has(dataId);
    const released = super.disposeData(dataId, force);
    if (released && had && !this.data.has(dataId)) this.pool.onDispose(values, dataId);
    return released;
  }

  /** Values of a float32 tensor held by this backend, or null (other dtype, complex, missing). */
  f32(t: TfCore.TensorInfo): Float32Array | null {
    if (t.dtype !== 'float32') return null;
    const d = this.data.get(t.dataId);
    const v = d?.values;
    return v instanceof Float32Array && !d?.complexTensorInfos ? v : null;
  }

  /** A float32 output tensor whose values come from the pool. */
  output(shape: number[], fill: (out: Float32Array) => void): TfCore.TensorInfo {
    const size = shape.reduce((a, b) => a * b, 1);
    const out = this.pool.acquire(size);
    try {
      fill(out);
    } catch (e) {
      this.pool.giveBack(out);
      throw e;
    }
    return this.makeTensorInfo(shape, 'float32', out);
  }
}
