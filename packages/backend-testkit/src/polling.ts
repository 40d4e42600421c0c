/**
 * Waiting in tests on real systems: poll until a condition holds, with a deadline, never a fixed
 * sleep. The wait starts short and doubles up to half a second, so fast systems are not slowed
 * and slow ones (a batch scheduler's next cycle) are not hammered.
 */

/** Poll until `check` returns a truthy value; the timeout error shows `what` and the last value. */
export async function until<T>(what: string | (() => string), check: () => T | Promise<T>, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`[skein-testkit] timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}
