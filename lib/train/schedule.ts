// Learning-rate schedule of Goyal et al. 2017 (ALGORITHMS.md section 3): linear scaling
// (peak = base x globalBatch / 256), gradual linear warmup from the unscaled base LR, then a decay.
// A pure function of the global step, so every rank computes the same value.

export type DecayKind = 'cosine' | 'step' | 'constant';

export interface LrScheduleOptions {
  /** LR for a global batch of `referenceBatch` (default 256). */
  baseLr: number;
  globalBatch: number;
  referenceBatch?: number;
  stepsPerEpoch: number;
  epochs: number;
  /** Warmup length in epochs (may be fractional); ignored when warmupSteps is given. */
  warmupEpochs?: number;
  warmupSteps?: number;
  decay?: DecayKind;
  /** Epochs at which 'step' decay multiplies the LR by `gamma` (default: half and three quarters of the run). */
  milestones?: number[];
  gamma?: number;
  /** Floor of the cosine decay (default 0). */
  minLr?: number;
}

export class LrSchedule {
  readonly baseLr: number;
  /** base x globalBatch / referenceBatch. */
  readonly peakLr: number;
  /** LR at step 0: the unscaled base LR, or the peak when scaling shrinks the LR (k <= 1). */
  readonly startLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly decay: DecayKind;
  readonly milestoneSteps: number[];
  readonly gamma: number;
  readonly minLr: number;

  constructor(o: LrScheduleOptions) {
    const ref = o.referenceBatch ?? 256;
    if (!(o.baseLr >= 0) || !Number.isFinite(o.baseLr)) throw new RangeError(`baseLr must be a finite number >= 0, got ${o.baseLr}`);
    if (!(o.globalBatch > 0) || !(ref > 0)) throw new RangeError('globalBatch and referenceBatch must be > 0');
    if (!(o.stepsPerEpoch > 0) || !(o.epochs > 0)) throw new RangeError('stepsPerEpoch and epochs must be > 0');
    this.baseLr = o.baseLr;
    this.peakLr = (o.baseLr * o.globalBatch) / ref;
    this.startLr = Math.min(this.baseLr, this.peakLr);
    this.totalSteps = Math.round(o.stepsPerEpoch * o.epochs);
    const warm = o.warmupSteps ?? Math.round((o.warmupEpochs ?? 0) * o.stepsPerEpoch);
    if (!(warm >= 0)) throw new RangeError(`warmup must be >= 0, got ${warm}`);
    this.warmupSteps = Math.min(warm, this.totalSteps);
    this.decay = o.decay ?? 'cosine';
    this.gamma = o.gamma ?? 0.1;
    this.minLr = o.minLr ?? 0;
    const milestones = o.milestones ?? [0.5 * o.epochs, 0.75 * o.epochs];
    this.milestoneSteps = milestones.map((e) => Math.round(e * o.stepsPerEpoch)).sort((a, b) => a - b);
  }

  /** LR used for global step `t` (0-based). */
  at(t: number): number {
    if (t < this.warmupSteps) {
      return this.startLr + ((this.peakLr - this.startLr) * t) / this.warmupSteps;
    }
    switch (this.decay) {
      case 'constant':
        return this.peakLr;
      case 'step': {
        let lr = this.peakLr;
        for (const m of this.milestoneSteps) if (t >= m && m > this.warmupSteps) lr *= this.gamma;
        return lr;
      }
      case 'cosine': {
        const span = this.totalSteps - this.warmupSteps;
        if (span <= 0) return this.peakLr;
        const progress = Math.min(1, (t - this.warmupSteps) / span);
        return this.minLr + (this.peakLr - this.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
      }
    }
  }
}
