// INV-L1..L3 (ALGORITHMS.md section 3.4) and the decay shapes.
import test from 'ava';
import { LrSchedule } from '../../lib/train/schedule.js';
import { createFakeGroup } from './_fake-comm.js';

test('gradual warmup: base at step 0, k x base at the end, linear and monotone in between (INV-L1)', (t) => {
  const s = new LrSchedule({ baseLr: 0.1, globalBatch: 1024, stepsPerEpoch: 100, epochs: 10, warmupEpochs: 5, decay: 'constant' });
  t.is(s.peakLr, 0.4);
  t.is(s.warmupSteps, 500);
  t.is(s.at(0), 0.1);
  t.true(Math.abs(s.at(250) - 0.25) < 1e-15);
  t.true(Math.abs(s.at(100) - (0.1 + 0.3 * 100 / 500)) < 1e-15);
  t.is(s.at(500), 0.4);
  t.is(s.at(999), 0.4);
  for (let i = 1; i <= 500; i++) t.true(s.at(i) >= s.at(i - 1));
  // Piecewise linear: constant increments during warmup.
  const inc = s.at(1) - s.at(0);
  for (let i = 1; i < 500; i++) t.true(Math.abs(s.at(i + 1) - s.at(i) - inc) < 1e-12);
});

test('k = 1: warmup is the identity (INV-L2); k < 1 never ramps above the scaled LR', (t) => {
  const s = new LrSchedule({ baseLr: 0.05, globalBatch: 256, stepsPerEpoch: 10, epochs: 4, warmupEpochs: 2, decay: 'constant' });
  for (let i = 0; i < 40; i++) t.is(s.at(i), 0.05);
  const small = new LrSchedule({ baseLr: 0.1, globalBatch: 64, stepsPerEpoch: 10, epochs: 4, warmupEpochs: 2, decay: 'constant' });
  t.is(small.peakLr, 0.025);
  for (let i = 0; i < 40; i++) t.is(small.at(i), 0.025);
});

test('warmup in steps overrides epochs; fractional warmup epochs', (t) => {
  const s = new LrSchedule({ baseLr: 0.1, globalBatch: 512, stepsPerEpoch: 117, epochs: 2, warmupEpochs: 1, warmupSteps: 10, decay: 'constant' });
  t.is(s.warmupSteps, 10);
  t.true(Math.abs(s.at(5) - 0.15) < 1e-15);
  const f = new LrSchedule({ baseLr: 0.1, globalBatch: 512, stepsPerEpoch: 100, epochs: 2, warmupEpochs: 0.5, decay: 'constant' });
  t.is(f.warmupSteps, 50);
});

test('cosine decay after warmup reaches minLr at the end; step decay multiplies by gamma at milestones', (t) => {
  const c = new LrSchedule({ baseLr: 0.1, globalBatch: 512, stepsPerEpoch: 100, epochs: 3, warmupEpochs: 1, decay: 'cosine' });
  t.is(c.at(100), 0.2);
  t.true(Math.abs(c.at(200) - 0.1) < 1e-12, 'half way through the decay: half the peak');
  t.true(Math.abs(c.at(300)) < 1e-12);
  for (let i = 101; i < 300; i++) t.true(c.at(i) <= c.at(i - 1));
  const st = new LrSchedule({ baseLr: 0.1, globalBatch: 256, stepsPerEpoch: 10, epochs: 90, warmupEpochs: 5, decay: 'step', milestones: [30, 60, 80] });
  t.is(st.at(299), 0.1);
  t.true(Math.abs(st.at(300) - 0.01) < 1e-15);
  t.true(Math.abs(st.at(600) - 0.001) < 1e-15);
  t.true(Math.abs(st.at(850) - 0.0001) < 1e-15);
});

test('LR is identical on all ranks at random steps (INV-L3, all-gathered)', async (t) => {
  const comms = createFakeGroup(3);
  const steps = [0, 7, 93, 117, 118, 230];
  const results = await Promise.all(comms.map(async (comm) => {
    const s = new LrSchedule({ baseLr: 0.1, globalBatch: 3 * 64, stepsPerEpoch: 312, epochs: 3, warmupEpochs: 1 });
    const mine = Float64Array.from(steps, (k) => s.at(k));
    const all = new Float64Array(mine.length * 3);
    await comm.allGather(mine, all);
    return all;
  }));
  for (const all of results) for (let r = 1; r < 3; r++) t.deepEqual(Array.from(all.subarray(r * steps.length, (r + 1) * steps.length)), Array.from(all.subarray(0, steps.length)));
});
