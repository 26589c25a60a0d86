/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): stamps that follow
 * wall time when clocks agree, and still order causally when they do not (a device that has
 * seen a stamp never issues a smaller one).
 *
 * Stamp text: `<wall ms, 15 digits>-<counter, 6 digits>-<device id>`. The two numbers have a
 * fixed width, so plain string order is clock order, and equal (wall, counter) pairs are
 * ordered by device id: two devices never issue equal stamps.
 */
import { SyncError } from '../errors';
import type { HlcStamp } from './changes';

const WALL_DIGITS = 15;
const COUNTER_DIGITS = 6;
const MAX_WALL = 10 ** WALL_DIGITS - 1;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
/** Device ids in stamps are visible ASCII (see core/protocol/fields.ts `hlcStamp`). */
const DEVICE_ID = /^[\x21-\x7e]+$/;
const STAMP = /^(\d{15})-(\d{6})-([\x21-\x7e]+)$/;

/** The three parts of a stamp. */
export interface HlcParts {
  /** Wall-clock milliseconds (the largest seen, not necessarily this device's own clock). */
  wall: number;
  /** Orders stamps with the same `wall`. */
  counter: number;
  deviceId: string;
}

/**
 * Issues stamps for one device.
 *
 * On start, feed it the last stamp this device issued (`receive(last)`), so a clock that went
 * backwards across a restart cannot issue a stamp smaller than one already given out.
 */
export class HybridLogicalClock {
  private wall = 0;
  private counter = 0;

  /**
   * @param deviceId this device's id (visible ASCII); it breaks ties between devices.
   * @param physicalNow wall-clock milliseconds; injectable for tests.
   */
  constructor(
    readonly deviceId: string,
    private readonly physicalNow: () => number = Date.now,
  ) {
    if (!DEVICE_ID.test(deviceId)) {
      throw new SyncError('HLC_INVALID', 'an HLC device id must be non-empty visible ASCII', { deviceId });
    }
  }

  /** A new stamp, greater than every stamp this clock issued or received before. */
  now(): HlcStamp {
    const physical = this.readPhysical();
    if (physical > this.wall) {
      this.wall = physical;
      this.counter = 0;
    } else {
      this.tick(this.counter + 1);
    }
    return formatHlc({ wall: this.wall, counter: this.counter, deviceId: this.deviceId });
  }

  /**
   * Takes in a stamp seen from another device (or this device's own last stamp after a
   * restart): every later `now()` is greater than it. Throws HLC_INVALID for a malformed stamp.
   */
  receive(stamp: HlcStamp): void {
    const remote = parseHlc(stamp);
    const physical = this.readPhysical();
    const wall = Math.max(this.wall, remote.wall, physical);
    let counter: number;
    if (wall === this.wall && wall === remote.wall) counter = Math.max(this.counter, remote.counter) + 1;
    else if (wall === this.wall) counter = this.counter + 1;
    else if (wall === remote.wall) counter = remote.counter + 1;
    else counter = 0;
    this.wall = wall;
    this.tick(counter);
  }

  /** Sets the counter, carrying into the wall time when the counter's digits run out. */
  private tick(counter: number): void {
    if (counter > MAX_COUNTER) {
      this.wall += 1;
      this.counter = 0;
    } else {
      this.counter = counter;
    }
    if (this.wall > MAX_WALL) throw new SyncError('HLC_INVALID', 'HLC wall time out of range', { wall: this.wall });
  }

  private readPhysical(): number {
    const value = Math.floor(this.physicalNow());
    return Number.isFinite(value) && value > 0 ? Math.min(value, MAX_WALL) : 0;
  }
}

/**
 * Orders two stamps: negative when `a` is earlier. String order is clock order (fixed-width
 * numbers), ties broken by device id. Does not validate; use `parseHlc` at the edge.
 */
export function compareHlc(a: HlcStamp, b: HlcStamp): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Splits a stamp into its parts; throws SyncError HLC_INVALID when it is malformed. */
export function parseHlc(stamp: HlcStamp): HlcParts {
  const match = typeof stamp === 'string' ? STAMP.exec(stamp) : null;
  if (!match) throw new SyncError('HLC_INVALID', 'malformed HLC stamp', { stamp: String(stamp).slice(0, 100) });
  return { wall: Number(match[1]), counter: Number(match[2]), deviceId: match[3]! };
}

/** True when `value` is a well-formed stamp. */
export function isHlcStamp(value: unknown): value is HlcStamp {
  return typeof value === 'string' && STAMP.test(value);
}

/** The stamp text of the given parts; throws HLC_INVALID for out-of-range parts. */
export function formatHlc(parts: HlcParts): HlcStamp {
  const { wall, counter, deviceId } = parts;
  if (!Number.isInteger(wall) || wall < 0 || wall > MAX_WALL || !Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER || !DEVICE_ID.test(deviceId)) {
    throw new SyncError('HLC_INVALID', 'HLC parts out of range', { wall, counter, deviceId });
  }
  return `${String(wall).padStart(WALL_DIGITS, '0')}-${String(counter).padStart(COUNTER_DIGITS, '0')}-${deviceId}`;
}
