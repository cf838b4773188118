// throttle.test.mjs — dashboard/src/throttle.js under node:test's mock clock.
import assert from 'node:assert/strict';
import { beforeEach, afterEach, mock, test } from 'node:test';
import { throttle } from '../../../dashboard/src/throttle.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

test('the first call runs at once; a burst within the interval runs once more at its end', () => {
  let runs = 0;
  const f = throttle(() => runs++, 500);
  f();
  assert.equal(runs, 1);
  for (let i = 0; i < 10; i++) {
    mock.timers.tick(40);
    f();
  }
  assert.equal(runs, 1);
  mock.timers.tick(500);
  assert.equal(runs, 2);
  mock.timers.tick(5000);
  assert.equal(runs, 2, 'nothing more without calls');
  f();
  assert.equal(runs, 3, 'after a quiet interval: at once again');
});

test('now() runs at once and drops the pending run; cancel() drops it too', () => {
  let runs = 0;
  const f = throttle(() => runs++, 1000);
  f();
  f();
  f.now();
  assert.equal(runs, 2);
  mock.timers.tick(2000);
  assert.equal(runs, 2, 'the pending run was dropped');
  f();
  f();
  f.cancel();
  mock.timers.tick(2000);
  assert.equal(runs, 3, 'cancelled (the first call had run)');
});
