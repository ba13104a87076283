import {IntegrityError} from '@plakar/sdk'

/**
 * Shape checks for decoded structures. MessagePack decodes any bytes into some value; what a
 * reader then does with a value of the wrong shape (a number where a list was, a string where
 * bytes were) would be a TypeError deep in the engine. Each decoder checks the shape it relies
 * on first, so that damaged or forged input is an IntegrityError naming the structure (exit 65),
 * whatever the bytes (the decoders are fuzzed: core/engine/test/format/fuzz.test.ts).
 */
export class Shape {
  constructor(readonly what: string) {}

  fail(detail: string): never {
    throw new IntegrityError(`${this.what} is malformed: ${detail}`)
  }

  record(value: unknown, field: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) this.fail(`${field} is not a map`)
    return value as Record<string, unknown>
  }

  list(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(`${field} is not a list`)
    return value
  }

  /** A list, or absent (an optional field of an older writer). */
  optionalList(value: unknown, field: string): unknown[] {
    return value === undefined || value === null ? [] : this.list(value, field)
  }

  bytes(value: unknown, field: string, length?: number): Uint8Array {
    if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) this.fail(`${field} is not ${length ?? 'a string of'} bytes`)
    return value
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(`${field} is not a string`)
    return value
  }

  /** A non-negative integer below 2⁵³. */
  count(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(`${field} is not a non-negative integer`)
    return value
  }

  number(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(`${field} is not a number`)
    return value
  }
}
