// Models: 'mlp' (tests, smoke runs), 'cnn' (small CNN for 28x28: conv-pool-conv-pool-dense-dense),
// 'vgg' (VGG-style with BatchNorm) and 'resnet' (ResNet-style, BatchNorm, zero-init last BN gamma of each
// residual block as in Goyal et al.) for 64x64 or 128x128 RGB. Parameters are created in forward order.
// Hidden layers use He-normal init; the output layer N(0, 0.01^2) so the initial logits are near zero.

import type * as tfc from '@tensorflow/tfjs-core';
import type { TF } from '../engine.js';
import { batchNorm, type BnUpdate, conv2dSame, he, type ModelBuffer, type ModelParam, ParamFactory } from './layers.js';

export { applyBnUpdates, type BnUpdate, type ModelBuffer, type ModelParam } from './layers.js';

export type ParamTap = (variable: tfc.Variable, index: number) => tfc.Tensor;

export const MODEL_NAMES = ['mlp', 'cnn', 'vgg', 'resnet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface Model {
  readonly name: ModelName;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Trainable parameters in forward (layer) order. */
  readonly params: readonly ModelParam[];
  readonly buffers: readonly ModelBuffer[];
  /**
   * Logits [batch, classes]. In training mode BatchNorm statistics are pushed to `bnUpdates`. `tap`, when
   * given, replaces every read of parameter i in the forward pass by tap(variable, i) (the trainer uses an
   * identity with a custom gradient to catch each parameter's gradient the moment backward produces it).
   */
  forward(x: tfc.Tensor4D, training: boolean, bnUpdates?: BnUpdate[], tap?: ParamTap): tfc.Tensor2D;
  dispose(): void;
}

export interface ModelOptions {
  name: ModelName;
  inputShape: readonly [number, number, number];
  numClasses: number;
  seed: number;
  /** Use the im2col filter gradient (set for the pure-JS 'cpu' backend). */
  fastConvGrad?: boolean;
}

export function createModel(tf: TF, o: ModelOptions): Model {
  const f = new ParamFactory(tf, o.seed, o.name);
  const [H, W, C] = o.inputShape;
  const K = o.numClasses;
  const fast = o.fastConvGrad ?? false;
  let forward: (x: tfc.Tensor4D, training: boolean, bnUpdates?: BnUpdate[]) => tfc.Tensor2D;
  // Every read of a parameter in forward goes through use(), so a caller can wrap it (gradient taps).
  let tap: ParamTap | undefined;
  const indexOf = new Map<tfc.Variable, number>();
  const use = (v: tfc.Variable): tfc.Tensor => {
    if (!tap) return v;
    let i = indexOf.get(v);
    if (i === undefined) {
      i = f.params.findIndex((p) => p.variable === v);
      indexOf.set(v, i);
    }
    return tap(v, i);
  };

  const dense = (name: string, fanIn: number, fanOut: number, last: boolean) => ({
    w: f.param(`${name}/kernel`, [fanIn, fanOut], last ? { kind: 'normal', std: 0.01 } : he(fanIn)),
    b: f.param(`${name}/bias`, [fanOut], { kind: 'const', value: 0 }),
  });
  const conv = (name: string, k: number, cin: number, cout: number, bias: boolean) => ({
    w: f.param(`${name}/kernel`, [k, k, cin, cout], he(k * k * cin)),
    b: bias ? f.param(`${name}/bias`, [cout], { kind: 'const', value: 0 }) : undefined,
  });
  const bn = (name: string, c: number, gammaInit = 1) => ({
    gamma: f.param(`${name}/gamma`, [c], { kind: 'const', value: gammaInit }),
    beta: f.param(`${name}/beta`, [c], { kind: 'const', value: 0 }),
    mean: f.buffer(`${name}/moving_mean`, [c], 0),
    variance: f.buffer(`${name}/moving_variance`, [c], 1),
  });
  type Bn = ReturnType<typeof bn>;
  const applyBn = (x: tfc.Tensor4D, p: Bn, training: boolean, u: BnUpdate[] | undefined) =>
    batchNorm(tf, x, use(p.gamma), use(p.beta), p.mean, p.variance, training, u);
  const flatten = (x: tfc.Tensor) => tf.reshape(x, [x.shape[0]!, -1]) as tfc.Tensor2D;
  const pool = (x: tfc.Tensor4D) => tf.maxPool(x, 2, 2, 'valid');

  switch (o.name) {
    case 'mlp': {
      const d1 = dense('dense1', H * W * C, 128, false);
      const d2 = dense('dense2', 128, K, true);
      forward = (x) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(flatten(x), use(d1.w)), use(d1.b))), use(d2.w)), use(d2.b));
      break;
    }
    case 'cnn': {
      const c1 = conv('conv1', 3, C, 32, true);
      const c2 = conv('conv2', 3, 32, 64, true);
      const flat = Math.floor(H / 4) * Math.floor(W / 4) * 64;
      const d1 = dense('dense1', flat, 128, false);
      const d2 = dense('dense2', 128, K, true);
      forward = (x) => {
        let h = pool(tf.relu(tf.add(conv2dSame(tf, x, use(c1.w), fast), use(c1.b!))) as tfc.Tensor4D);
        h = pool(tf.relu(tf.add(conv2dSame(tf, h, use(c2.w), fast), use(c2.b!))) as tfc.Tensor4D);
        const z = tf.relu(tf.add(tf.matMul(flatten(h), use(d1.w)), use(d1.b)));
        return tf.add(tf.matMul(z, use(d2.w)), use(d2.b));
      };
      break;
    }
    case 'vgg': {
      // [32] pool [64] pool [128 128] pool [256] pool, BatchNorm + ReLU after every conv, global average pool.
      const widths: Array<number | 'pool'> = [32, 'pool', 64, 'pool', 128, 128, 'pool', 256, 'pool'];
      const blocks: Array<{ c: ReturnType<typeof conv>; n: Bn } | 'pool'> = [];
      let cin = C, i = 0;
      for (const w of widths) {
        if (w === 'pool') { blocks.push('pool'); continue; }
        i++;
        blocks.push({ c: conv(`conv${i}`, 3, cin, w, false), n: bn(`bn${i}`, w) });
        cin = w;
      }
      const d1 = dense('dense1', cin, 128, false);
      const d2 = dense('dense2', 128, K, true);
      forward = (x, training, u) => {
        let h = x;
        for (const b of blocks) h = b === 'pool' ? pool(h) : tf.relu(applyBn(conv2dSame(tf, h, use(b.c.w), fast), b.n, training, u));
        const g = tf.mean(h, [1, 2]) as tfc.Tensor2D;
        return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(g, use(d1.w)), use(d1.b))), use(d2.w)), use(d2.b));
      };
      break;
    }
    case 'resnet': {
      // Stem conv 32 + BN + ReLU + pool, then stages of basic blocks (32, 64, 128); between stages 2x2
      // average pooling and a 1x1 projection; the last BN of every block starts with gamma = 0.
      const stem = { c: conv('stem', 3, C, 32, false), n: bn('stem_bn', 32) };
      const stages = [32, 64, 128].map((width, s) => {
        const cin = s === 0 ? 32 : [32, 64, 128][s - 1]!;
        return {
          proj: cin !== width ? conv(`stage${s + 1}/proj`, 1, cin, width, false) : undefined,
          projBn: cin !== width ? bn(`stage${s + 1}/proj_bn`, width) : undefined,
          c1: conv(`stage${s + 1}/conv1`, 3, cin, width, false),
          n1: bn(`stage${s + 1}/bn1`, width),
          c2: conv(`stage${s + 1}/conv2`, 3, width, width, false),
          n2: bn(`stage${s + 1}/bn2`, width, 0),
          downsample: s > 0,
        };
      });
      const d = dense('fc', 128, K, true);
      forward = (x, training, u) => {
        let h = pool(tf.relu(applyBn(conv2dSame(tf, x, use(stem.c.w), fast), stem.n, training, u)));
        for (const st of stages) {
          if (st.downsample) h = tf.avgPool(h, 2, 2, 'valid');
          const shortcut = st.proj ? applyBn(conv2dSame(tf, h, use(st.proj.w), fast), st.projBn!, training, u) : h;
          let y = tf.relu(applyBn(conv2dSame(tf, h, use(st.c1.w), fast), st.n1, training, u));
          y = applyBn(conv2dSame(tf, y, use(st.c2.w), fast), st.n2, training, u);
          h = tf.relu(tf.add(y, shortcut)) as tfc.Tensor4D;
        }
        const g = tf.mean(h, [1, 2]) as tfc.Tensor2D;
        return tf.add(tf.matMul(g, use(d.w)), use(d.b));
      };
      break;
    }
    default:
      throw new RangeError(`unknown model '${String(o.name)}' (expected ${MODEL_NAMES.join(', ')})`);
  }

  return {
    name: o.name,
    inputShape: o.inputShape,
    numClasses: K,
    params: f.params,
    buffers: f.buffers,
    forward(x, training, bnUpdates, paramTap) {
      tap = paramTap;
      try {
        return forward(x, training, bnUpdates);
      } finally {
        tap = undefined;
      }
    },
    dispose() {
      for (const p of f.params) p.variable.dispose();
      for (const b of f.buffers) b.variable.dispose();
    },
  };
}

/** Number of trainable elements. */
export function parameterCount(model: Model): number {
  return model.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
