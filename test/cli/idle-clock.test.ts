// ringrun gives up on a rank pipe that stays idle after the ranks exited; a stall of ringrun itself
// (a loaded host) must not count as idleness, or output still waiting in the pipe is dropped.
import test from 'ava';

import { IdleClock } from '../../lib/launcher/output.js';

test('idle time accrues per check, capped per step, and resets on activity', (t) => {
  const c = new IdleClock(150);
  t.is(c.observe(1000, 5000), 0);
  t.is(c.observe(1000, 5100), 100);
  t.is(c.observe(1000, 5200), 200);
  // ringrun was not scheduled for 5 s: only one capped step counts
  t.is(c.observe(1000, 10_200), 350);
  // the next poll read data: activity moved, idleness starts over
  t.is(c.observe(10_250, 10_300), 0);
  t.is(c.observe(10_250, 10_400), 100);
});

test('2 s of idleness needs 2 s of checks: a single 3 s stall never reaches it', (t) => {
  const c = new IdleClock(150);
  let now = 0;
  c.observe(0, now);
  now += 3000;
  t.true(c.observe(0, now) < 2000);
  let checks = 1;
  while (c.observe(0, (now += 100)) <= 2000) checks++;
  t.true(checks >= 19, `gave up after ${checks} checks`);
});
