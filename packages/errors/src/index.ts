/**
 * The one error shape every uniota package throws.
 *
 * Each package defines its codes in an `as const` object and a subclass of
 * UniotaError; callers switch on `code` (stable strings that users see and
 * docs list), never on message text. `transient` tells retry logic whether the
 * same call may succeed later (a dropped connection) or never will (a bad
 * signature).
 */
export class UniotaError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly transient: boolean;

  constructor(code: Code, message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.transient = options.transient ?? false;
    this.name = new.target.name;
  }
}

/** True when `err` is a UniotaError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof UniotaError && err.code === code;
}
