import { progressValue, throttleProgress, type ProgressValue } from '../../workers/job-progress';

describe('job progress values', () => {
  it('is a whole percentage, rounded down, with the detail, when the total is known', () => {
    expect(progressValue(0, 10)).toEqual({ progress: 0, done: 0, total: 10 });
    expect(progressValue(29, 100)).toEqual({ progress: 29, done: 29, total: 100 });
    expect(progressValue(1, 3)).toEqual({ progress: 33, done: 1, total: 3 });
    expect(progressValue(2, 3)).toEqual({ progress: 66, done: 2, total: 3 });
  });

  it('reaches 100 only when done reaches the total, and never leaves 0..100', () => {
    expect(progressValue(9_999, 10_000)).toMatchObject({ progress: 99 });
    expect(progressValue(999_999_999, 1_000_000_000)).toMatchObject({ progress: 99 });
    expect(progressValue(10_000, 10_000)).toMatchObject({ progress: 100 });
    expect(progressValue(12_000, 10_000)).toMatchObject({ progress: 100 });
    expect(progressValue(-5, 10)).toMatchObject({ progress: 0 });
    expect(progressValue(0, 0)).toMatchObject({ progress: 100 });
  });

  it('is the count alone when there is no usable total', () => {
    expect(progressValue(12_345)).toEqual({ done: 12_345 });
    expect(progressValue(7, Number.NaN)).toEqual({ done: 7 });
    expect(progressValue(7, -1)).toEqual({ done: 7 });
  });
});

describe('job progress throttle', () => {
  let clock = 0;
  let writes: ProgressValue[];
  /** The clock at each write. */
  let writtenAt: number[];
  const write = (value: ProgressValue): Promise<void> => {
    writes.push(value);
    writtenAt.push(clock);
    return Promise.resolve();
  };
  const open = (onError?: (err: unknown) => void) => throttleProgress(write, { intervalMs: 1_000, now: () => clock, onError });
  /** Moves both clocks: the one the throttle reads and the fake timers. */
  const advance = async (ms: number): Promise<void> => {
    clock += ms;
    await jest.advanceTimersByTimeAsync(ms);
  };

  beforeEach(() => {
    jest.useFakeTimers();
    clock = 0;
    writes = [];
    writtenAt = [];
  });
  afterEach(() => {
    expect(jest.getTimerCount()).toBe(0);
    jest.useRealTimers();
  });

  it('writes the first report at once, then the last of a second when the second is up', async () => {
    const progress = open();
    await progress.report(1, 1_000);
    expect(writes).toEqual([{ progress: 0, done: 1, total: 1_000 }]);
    for (let i = 2; i <= 500; i++) await progress.report(i, 1_000);
    expect(writes).toHaveLength(1);
    await advance(999);
    expect(writes).toHaveLength(1);
    await advance(1);
    expect(writes).toEqual([
      { progress: 0, done: 1, total: 1_000 },
      { progress: 50, done: 500, total: 1_000 },
    ]);
    await progress.flush();
  });

  it('writes at most once a second however many reports come', async () => {
    const progress = open();
    for (let ms = 0; ms < 5_000; ms += 10) {
      await progress.report(ms);
      await advance(10);
    }
    await progress.flush();
    // One at once, then one as each second is up, the last at the end.
    expect(writtenAt.slice(0, -1)).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
    expect(writes.at(-1)).toEqual({ done: 4_990 });
  });

  it('writes the value held back when the job ends, and leaves no timer', async () => {
    const progress = open();
    await progress.report(1, 3);
    await progress.report(2, 3);
    await progress.report(3, 3);
    expect(jest.getTimerCount()).toBe(1);
    await progress.flush();
    expect(jest.getTimerCount()).toBe(0);
    expect(writes).toEqual([
      { progress: 33, done: 1, total: 3 },
      { progress: 100, done: 3, total: 3 },
    ]);
    // Reports after the end are dropped: nothing is written to a finished job.
    await progress.report(4, 3);
    await advance(5_000);
    expect(writes).toHaveLength(2);
  });

  it('writes at once again after a quiet second, and skips a value already written', async () => {
    const progress = open();
    await progress.report(5);
    await advance(3_000);
    await progress.report(5);
    expect(writes).toEqual([{ done: 5 }]);
    await progress.report(6);
    expect(writes).toEqual([{ done: 5 }, { done: 6 }]);
    await progress.report(7);
    expect(writes).toHaveLength(2);
    await advance(1_000);
    expect(writes).toEqual([{ done: 5 }, { done: 6 }, { done: 7 }]);
    await progress.flush();
    expect(writes).toHaveLength(3);
  });

  it('hands a failed write made at once to its caller, and a held-back one to onError; the end never rejects', async () => {
    const failures: unknown[] = [];
    const failing = throttleProgress(() => Promise.reject(new Error('redis away')), { intervalMs: 1_000, now: () => clock, onError: (err) => failures.push(err) });
    await expect(failing.report(1)).rejects.toThrow('redis away');
    await failing.report(2);
    await advance(1_000);
    expect(failures).toHaveLength(1);
    await failing.report(3);
    await expect(failing.flush()).resolves.toBeUndefined();
    expect(failures).toHaveLength(2);
  });
});
