// Momentum SGD with weight decay (ALGORITHMS.md section 0.1, the torch.optim.SGD convention) that owns its
// momentum buffer as a plain Float32Array, so strategies can read, average, compress and overwrite it.
//
//   d  = g + wd * x
//   u  = mu * u + (1 - dampening) * d        (u starts at 0, so the first step gives u = d when dampening = 0)
//   d' = nesterov ? d + mu * u : u
//   x  = x - lr * d'

export interface MomentumSgdOptions {
  momentum: number;
  weightDecay: number;
  dampening?: number;
  nesterov?: boolean;
}

export class MomentumSGD {
  readonly momentum: number;
  readonly weightDecay: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  /** The momentum buffer u (one element per parameter element, flat layout order). */
  readonly buffer: Float32Array;

  constructor(size: number, options: MomentumSgdOptions) {
    if (!(options.momentum >= 0 && options.momentum < 1)) throw new RangeError(`momentum must be in [0, 1), got ${options.momentum}`);
    if (!(options.weightDecay >= 0)) throw new RangeError(`weight decay must be >= 0, got ${options.weightDecay}`);
    this.momentum = options.momentum;
    this.weightDecay = options.weightDecay;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) throw new RangeError('nesterov needs momentum > 0 and dampening 0');
    this.buffer = new Float32Array(size);
  }

  /** One update of `params` in place from `grad` (same flat layout), with learning rate `lr`. */
  step(params: Float32Array, grad: Float32Array, lr: number): void {
    const n = this.buffer.length;
    if (params.length !== n || grad.length !== n) throw new RangeError(`optimizer expects ${n} elements, got params ${params.length}, grad ${grad.length}`);
    const u = this.buffer;
    const mu = this.momentum, wd = this.weightDecay, damp = 1 - this.dampening;
    if (mu === 0) {
      for (let i = 0; i < n; i++) params[i] = params[i]! - lr * (grad[i]! + wd * params[i]!);
      return;
    }
    if (this.nesterov) {
      for (let i = 0; i < n; i++) {
        const d = grad[i]! + wd * params[i]!;
        const ui = mu * u[i]! + damp * d;
        u[i] = ui;
        params[i] = params[i]! - lr * (d + mu * ui);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const ui = mu * u[i]! + damp * (grad[i]! + wd * params[i]!);
      u[i] = ui;
      params[i] = params[i]! - lr * ui;
    }
  }
}
