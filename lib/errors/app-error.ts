/**
 * The base of every error this project raises on purpose. Each domain has its
 * own subclass with a closed set of kinds; the HTTP edge maps (domain, kind)
 * to a status in one table per domain, so no domain knows about HTTP.
 */

/** An error of `domain` with one of its `kind`s; `message` is safe to show to a caller. */
export abstract class AppError<K extends string = string> extends Error {
  /** The domain whose table at the edge maps this error (e.g. `greet`, `registry`). */
  abstract readonly domain: string;

  constructor(
    readonly kind: K,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
