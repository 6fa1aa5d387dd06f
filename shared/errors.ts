// Errors shared by coordinator, worker and client. The gRPC layer maps InvalidArgumentError to
// INVALID_ARGUMENT and ManifestError to FAILED_PRECONDITION, so both carry enough to act on.

/** A request field is wrong. `field` is the proto's snake_case name, e.g. "duration_seconds", "sampling.top_p". */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** A model manifest breaks the contract. `path` is the JSON path of the offending field when known. */
export class ManifestError extends Error {
  override name = 'ManifestError';
  readonly path: string | undefined;

  constructor(message: string, options?: ErrorOptions & { path?: string }) {
    super(message, options);
    this.path = options?.path;
  }
}

/** An echoed input cut short: error messages must fit in gRPC metadata whatever the input. */
export function cut(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max - 3)}...` : value;
}
