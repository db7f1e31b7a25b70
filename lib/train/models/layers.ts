// Functional layers over TF.js: the model owns its parameters as plain tf.Variables (initialized from a
// seeded RNG, so every rank builds the same model from --seed), and forward() is ordinary TF.js ops.

import type * as tfc from '@tensorflow/tfjs-core';
import type { TF } from '../engine.js';
import { Rng } from '../rng.js';

export interface ModelParam {
  name: string;
  shape: number[];
  variable: tfc.Variable;
}

/** Non-trained state (BatchNorm running statistics). Averaged across ranks before evaluation/checkpoints. */
export interface ModelBuffer {
  name: string;
  shape: number[];
  variable: tfc.Variable;
}

/** BatchNorm statistics produced by a training forward pass, applied after the gradient computation. */
export interface BnUpdate {
  mean: tfc.Variable;
  variance: tfc.Variable;
  batchMean: tfc.Tensor;
  batchVariance: tfc.Tensor;
  momentum: number;
}

export type Init = { kind: 'normal'; std: number } | { kind: 'uniform'; limit: number } | { kind: 'const'; value: number };

export class ParamFactory {
  readonly params: ModelParam[] = [];
  readonly buffers: ModelBuffer[] = [];
  readonly #rng: Rng;

  constructor(readonly tf: TF, seed: number, modelName: string) {
    this.#rng = new Rng(seed, 'init', modelName);
  }

  #values(shape: number[], init: Init): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (init.kind === 'const') v.fill(init.value);
    else if (init.kind === 'normal') for (let i = 0; i < n; i++) v[i] = init.std * this.#rng.normal();
    else for (let i = 0; i < n; i++) v[i] = (2 * this.#rng.next() - 1) * init.limit;
    return v;
  }

  param(name: string, shape: number[], init: Init): tfc.Variable {
    const variable = this.tf.variable(this.tf.tensor(this.#values(shape, init), shape), true);
    this.params.push({ name, shape, variable });
    return variable;
  }

  buffer(name: string, shape: number[], value: number): tfc.Variable {
    const variable = this.tf.variable(this.tf.fill(shape, value), false);
    this.buffers.push({ name, shape, variable });
    return variable;
  }
}

/** He (Kaiming) normal for ReLU layers. */
export const he = (fanIn: number): Init => ({ kind: 'normal', std: Math.sqrt(2 / fanIn) });
/** Glorot uniform for the output layer. */
export const glorot = (fanIn: number, fanOut: number): Init => ({ kind: 'uniform', limit: Math.sqrt(6 / (fanIn + fanOut)) });

/**
 * 'same'-padded stride-1 convolution with an odd kernel. On the pure-JS 'cpu' backend, TF.js's filter
 * gradient (Conv2DBackpropFilter) is extremely slow, so there the filter gradient is computed as
 * im2col(x)^T . dy with one matMul (same math, ~50x faster); other backends use their own kernels.
 */
export function conv2dSame(tf: TF, x: tfc.Tensor4D, w: tfc.Tensor, fastFilterGrad: boolean): tfc.Tensor4D {
  const kernel = w as tfc.Tensor4D;
  if (!fastFilterGrad) return tf.conv2d(x, kernel, 1, 'same');
  const op = tf.customGrad<tfc.Tensor4D>((...args: Array<tfc.Tensor | tfc.GradSaveFunc>) => {
    const x4 = args[0] as tfc.Tensor4D, w4 = args[1] as tfc.Tensor4D, save = args[2] as tfc.GradSaveFunc;
    save([x4, w4]);
    return {
      value: tf.conv2d(x4, w4, 1, 'same'),
      gradFunc: (dy: tfc.Tensor4D, saved: tfc.Tensor[]) => {
        const [sx, sw] = saved as [tfc.Tensor4D, tfc.Tensor4D];
        const [kh, kw, cin, cout] = sw.shape;
        const [b, h, wd] = sx.shape;
        const dx = tf.conv2dTranspose(dy, sw, sx.shape, 1, 'same');
        const ph = (kh - 1) / 2, pw = (kw - 1) / 2;
        const padded = ph === 0 && pw === 0 ? sx : tf.pad(sx, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
        const parts: tfc.Tensor4D[] = [];
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) parts.push(tf.slice(padded, [0, i, j, 0], [b, h, wd, cin]));
        const cols = tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 3), [b * h * wd, kh * kw * cin]);
        const dw = tf.reshape(tf.matMul(cols, tf.reshape(dy, [b * h * wd, cout]), true, false), [kh, kw, cin, cout]);
        return [dx, dw];
      },
    };
  });
  return op(x, kernel);
}

/** BatchNorm over N, H, W (training: batch statistics, recorded in `updates`; eval: running statistics). */
export function batchNorm(
  tf: TF,
  x: tfc.Tensor4D,
  gamma: tfc.Tensor,
  beta: tfc.Tensor,
  mean: tfc.Variable,
  variance: tfc.Variable,
  training: boolean,
  updates: BnUpdate[] | undefined,
  momentum = 0.1,
  eps = 1e-5,
): tfc.Tensor4D {
  if (!training) return tf.batchNorm(x, mean, variance, beta, gamma, eps) as tfc.Tensor4D;
  const m = tf.moments(x, [0, 1, 2]);
  if (updates) updates.push({ mean, variance, batchMean: tf.keep(tf.clone(m.mean)), batchVariance: tf.keep(tf.clone(m.variance)), momentum });
  return tf.batchNorm(x, m.mean, m.variance, beta, gamma, eps) as tfc.Tensor4D;
}

/** Applies recorded BatchNorm statistics to the running buffers and frees them. */
export function applyBnUpdates(tf: TF, updates: BnUpdate[]): void {
  for (const u of updates) {
    tf.tidy(() => {
      u.mean.assign(tf.add(tf.mul(u.mean, 1 - u.momentum), tf.mul(u.batchMean, u.momentum)));
      u.variance.assign(tf.add(tf.mul(u.variance, 1 - u.momentum), tf.mul(u.batchVariance, u.momentum)));
    });
    u.batchMean.dispose();
    u.batchVariance.dispose();
  }
  updates.length = 0;
}
