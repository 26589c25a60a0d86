/**
 * A few small validator combinators for wire messages (no schema library: the rules are
 * few, and hand-written checks keep error details exact).
 *
 * A `Check<T>` takes an untrusted value and where it came from (`parent`, `key`), and returns
 * the value typed as `T` or throws `PROTOCOL_INVALID_FIELD` with `details: { field, expected }`.
 * The field string (e.g. `changes[3].body.key`) is built only when a check fails: a valid
 * push of many changes would otherwise build one string per field it holds. Objects come back
 * as fresh objects holding only the known fields, so unknown fields from a peer never travel
 * further.
 */
import { SyncError } from '../errors';

/**
 * Where a value sits in a message: a field string (at the top of a check), or a container's
 * place plus the key under it. A node's field string is never empty (see `enter`).
 */
export type Path = string | PathNode;
export interface PathNode {
  readonly up: Path;
  readonly key: string | number;
}

/** Checks the value found under `key` of the container at `parent`. */
export type Check<T> = (value: unknown, parent: Path, key: string | number) => T;

/** The field string of `parent` joined with `key`: `a.b`, `a[3]`, or `b` under an empty field. */
export function fieldAt(parent: Path, key: string | number): string {
  const base = typeof parent === 'string' ? parent : fieldAt(parent.up, parent.key);
  return typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key;
}

/** The path of the value under `key` of `parent`, for the checks of what it contains. */
export function enter(parent: Path, key: string | number): Path {
  return parent === '' && key === '' ? '' : { up: parent, key };
}

/**
 * The key to give a child of `container` so that its field reads like the template literal
 * `${field}.${name}`, which keeps the dot after an empty field (object fields do not).
 */
export function dotKey(container: Path, name: string): string {
  return container === '' ? `.${name}` : name;
}

/** Runs `check` on a value whose field string is `field`. */
export function checkAt<T>(check: Check<T>, value: unknown, field: string): T {
  return check(value, '', field);
}

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

/** A string of `min..max` UTF-16 units, optionally matching `pattern` (described by `expected`). */
export function str(opts: { min?: number; max: number; pattern?: RegExp; expected?: string }): Check<string> {
  const min = opts.min ?? 0;
  const max = opts.max;
  const expected = opts.expected ?? `string of ${min}..${max} characters`;
  const pattern = opts.pattern;
  if (pattern) {
    return (value, parent, key) => {
      if (typeof value !== 'string' || value.length < min || value.length > max || !pattern.test(value)) {
        invalid(fieldAt(parent, key), expected);
      }
      return value;
    };
  }
  return (value, parent, key) => {
    if (typeof value !== 'string' || value.length < min || value.length > max) invalid(fieldAt(parent, key), expected);
    return value;
  };
}

/** A safe integer in `min..max`. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER): Check<number> {
  const expected = `integer ${min}..${max}`;
  return (value, parent, key) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      invalid(fieldAt(parent, key), expected);
    }
    return value;
  };
}

/** A finite number in `min..max` (fractions allowed). */
export function num(min: number, max = Number.MAX_VALUE): Check<number> {
  const expected = `finite number ${min}..${max}`;
  return (value, parent, key) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) invalid(fieldAt(parent, key), expected);
    return value;
  };
}

export const bool: Check<boolean> = (value, parent, key) => {
  if (typeof value !== 'boolean') invalid(fieldAt(parent, key), 'boolean');
  return value;
};

/** One of the listed string constants. */
export function oneOf<const T extends string>(members: readonly T[]): Check<T> {
  const expected = `one of ${members.join(', ')}`;
  const set: ReadonlySet<string> = new Set(members);
  return (value, parent, key) => {
    if (typeof value !== 'string' || !set.has(value)) invalid(fieldAt(parent, key), expected);
    return value as T;
  };
}

/** An array of at most `max` items (at least `min`), each checked. */
export function arrayOf<T>(item: Check<T>, opts: { min?: number; max: number }): Check<T[]> {
  const min = opts.min ?? 0;
  const max = opts.max;
  const expected = `array of ${min}..${max} items`;
  return (value, parent, key) => {
    if (!Array.isArray(value) || value.length < min || value.length > max) invalid(fieldAt(parent, key), expected);
    const at = enter(parent, key);
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) out.push(item(value[i], at, i));
    return out;
  };
}

/** `null` or a value passing `check`. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, parent, key) => (value === null ? null : check(value, parent, key));
}

/** Any JSON value but `undefined` (a required field of free-form content). */
export const present: Check<unknown> = (value, parent, key) => {
  if (value === undefined) invalid(fieldAt(parent, key), 'a JSON value');
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
  const keys = Object.keys(shape);
  const checks = keys.map((k) => {
    const rule = shape[k]!;
    return typeof rule === 'function' ? rule : rule.optional;
  });
  const isOptional = keys.map((k) => typeof shape[k] !== 'function');
  return (value, parent, key) => {
    if (!isPlainObject(value)) invalid(fieldAt(parent, key), 'object');
    const at = enter(parent, key);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const name = keys[i]!;
      const v = value[name];
      if (!isOptional[i] || v !== undefined) out[name] = checks[i]!(v, at, name);
    }
    return out as Shaped<S>;
  };
}

/** Keys that would reach `Object.prototype` when a record is later merged with `Object.assign`. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A string-keyed record of at most `maxKeys` entries; the same object is returned (values checked). */
export function record<T>(valueCheck: Check<T>, opts: { maxKeys: number; maxKeyLength: number }): Check<Record<string, T>> {
  const expected = `object of at most ${opts.maxKeys} fields`;
  const badKey = `field name of 1..${opts.maxKeyLength} characters, not __proto__/constructor/prototype`;
  return (value, parent, key) => {
    if (!isPlainObject(value)) invalid(fieldAt(parent, key), expected);
    const names = Object.keys(value);
    if (names.length > opts.maxKeys) invalid(fieldAt(parent, key), expected);
    const at = enter(parent, key);
    for (const name of names) {
      if (name.length === 0 || name.length > opts.maxKeyLength || FORBIDDEN_KEYS.has(name)) invalid(fieldAt(at, name), badKey);
      valueCheck(value[name], at, name);
    }
    return value as Record<string, T>;
  };
}
