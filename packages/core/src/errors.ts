import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";

/** Thrown to whoever awaits a cancelled future, and only to them: never printed at exit. */
export class FutureCancelledError extends SkeinError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super("client", SKEIN_ERROR_CODES.CANCELLED, `future ${key} was cancelled: ${reason}`);
    this.key = key;
  }
}

/** A wait ran past its deadline. */
export class SkeinTimeoutError extends SkeinError {
  constructor(component: string, message: string) {
    super(component, SKEIN_ERROR_CODES.TIMEOUT, message);
  }
}

export function badOption(component: string, message: string): SkeinError {
  return new SkeinError(component, SKEIN_ERROR_CODES.BAD_OPTION, message);
}

export function closedError(component: string, what: string): SkeinError {
  return new SkeinError(component, SKEIN_ERROR_CODES.CLOSED, what);
}
