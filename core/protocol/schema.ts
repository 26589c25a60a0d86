/**
 * A few small validator combinators for wire messages (no schema library: the rules are
 * few, and hand-written checks keep error details exact).
 *
 * A `Check<T>` takes an untrusted value and the path of the field it came from (for the
 * error), and returns the value typed as `T` or throws `PROTOCOL_INVALID_FIELD` with
 * `details: { field, expected }`. Objects come back as fresh objects holding only the known
 * fields, so unknown fields from a peer never travel further.
 */
import { SyncError } from '../errors';

export type Check<T> = (value: unknown, field: string) => T;

/** Throws the one error every check throws. */
export function invalid(field: string, expected: string, extra?: Record<string, unknown>): never {
  throw new SyncError('PROTOCOL_INVALID_FIELD', `${field || 'message'}: expected ${expected}`, {
    field,
    expected,
    ...extra,
  });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const join = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key;

/** A string of `min..max` UTF-16 units, optionally matching `pattern` (described by `expected`). */
export function str(opts: { min?: number; max: number; pattern?: RegExp; expected?: string }): Check<string> {
  const min = opts.min ?? 0;
  const expected = opts.expected ?? `string of ${min}..${opts.max} characters`;
  return (value, field) => {
    if (typeof value !== 'string' || value.length < min || value.length > opts.max) invalid(field, expected);
    if (opts.pattern && !opts.pattern.test(value)) invalid(field, expected);
    return value;
  };
}

/** A safe integer in `min..max`. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER): Check<number> {
  const expected = `integer ${min}..${max}`;
  return (value, field) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      invalid(field, expected);
    }
    return value;
  };
}

/** A finite number in `min..max` (fractions allowed). */
export function num(min: number, max = Number.MAX_VALUE): Check<number> {
  const expected = `finite number ${min}..${max}`;
  return (value, field) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) invalid(field, expected);
    return value;
  };
}

export const bool: Check<boolean> = (value, field) => {
  if (typeof value !== 'boolean') invalid(field, 'boolean');
  return value;
};

/** One of the listed string constants. */
export function oneOf<const T extends string>(members: readonly T[]): Check<T> {
  const expected = `one of ${members.join(', ')}`;
  return (value, field) => {
    if (typeof value !== 'string' || !(members as readonly string[]).includes(value)) invalid(field, expected);
    return value as T;
  };
}

/** An array of at most `max` items (at least `min`), each checked. */
export function arrayOf<T>(item: Check<T>, opts: { min?: number; max: number }): Check<T[]> {
  const min = opts.min ?? 0;
  const expected = `array of ${min}..${opts.max} items`;
  return (value, field) => {
    if (!Array.isArray(value) || value.length < min || value.length > opts.max) invalid(field, expected);
    return value.map((v, i) => item(v, join(field, i)));
  };
}

/** `null` or a value passing `check`. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, field) => (value === null ? null : check(value, field));
}

/** Any JSON value but `undefined` (a required field of free-form content). */
export const present: Check<unknown> = (value, field) => {
  if (value === undefined) invalid(field, 'a JSON value');
  return value;
};

/** Marks a field optional: absent (undefined) is allowed; `null` is not. */
export interface Optional<T> {
  optional: Check<T>;
}
export function optional<T>(check: Check<T>): Optional<T> {
  return { optional: check };
}

type Shape = Record<string, Check<unknown> | Optional<unknown>>;
type Required<S extends Shape> = { [K in keyof S as S[K] extends Check<unknown> ? K : never]: S[K] extends Check<infer T> ? T : never };
type Optionals<S extends Shape> = { [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never };
export type Shaped<S extends Shape> = Required<S> & Optionals<S>;

/** An object with the given fields; unknown fields are dropped. */
export function object<S extends Shape>(shape: S): Check<Shaped<S>> {
  const entries = Object.entries(shape);
  return (value, field) => {
    if (!isPlainObject(value)) invalid(field, 'object');
    const out: Record<string, unknown> = {};
    for (const [key, rule] of entries) {
      const v = value[key];
      if (typeof rule === 'function') out[key] = rule(v, join(field, key));
      else if (v !== undefined) out[key] = rule.optional(v, join(field, key));
    }
    return out as Shaped<S>;
  };
}

/** Keys that would reach `Object.prototype` when a record is later merged with `Object.assign`. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A string-keyed record of at most `maxKeys` entries; the same object is returned (values checked). */
export function record<T>(valueCheck: Check<T>, opts: { maxKeys: number; maxKeyLength: number }): Check<Record<string, T>> {
  const expected = `object of at most ${opts.maxKeys} fields`;
  return (value, field) => {
    if (!isPlainObject(value)) invalid(field, expected);
    const keys = Object.keys(value);
    if (keys.length > opts.maxKeys) invalid(field, expected);
    for (const key of keys) {
      if (key.length === 0 || key.length > opts.maxKeyLength || FORBIDDEN_KEYS.has(key)) {
        invalid(join(field, key), `field name of 1..${opts.maxKeyLength} characters, not __proto__/constructor/prototype`);
      }
      valueCheck(value[key], join(field, key));
    }
    return value as Record<string, T>;
  };
}
