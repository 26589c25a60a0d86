/**
 * The index of one entry-cache shard (FsEntryCache): entry hash -> where its record is, kept in
 * typed arrays instead of a Map of hex strings to objects, so it costs about 30 bytes per record
 * rather than about 200 (a migrated store has a record per distinct message).
 *
 * Open addressing on the first 64 bits of the sha256 (uniformly distributed already). Two
 * hashes sharing those 64 bits would share a slot; every read of a record checks its full
 * sha256, so the worst such a collision (about 2^-64 per pair) could do is make an entry read as
 * missing, which the engine then fetches from the relay.
 */

/** Where a record's entry text is in the shard file. */
export interface Slot {
  offset: number;
  length: number;
}

const EMPTY = 0;
/** A deleted slot: probing goes on past it. */
const DELETED = 0xffffffff;
const MIN_CAPACITY = 64;

export class EntryCacheIndex {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private offsets: Float64Array;
  /** Entry text length + 1 (0: empty, DELETED: deleted). */
  private lengths: Uint32Array;
  private count = 0;
  /** Slots not empty (live or deleted): what bounds probing. */
  private filled = 0;

  constructor(capacity = MIN_CAPACITY) {
    const size = capacityFor(capacity);
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.offsets = new Float64Array(size);
    this.lengths = new Uint32Array(size);
  }

  get size(): number {
    return this.count;
  }

  has(hash: string): boolean {
    return this.find(hash) >= 0;
  }

  get(hash: string): Slot | undefined {
    const at = this.find(hash);
    return at < 0 ? undefined : { offset: this.offsets[at]!, length: this.lengths[at]! - 1 };
  }

  set(hash: string, slot: Slot): void {
    if ((this.filled + 1) * 4 > this.lengths.length * 3) this.grow();
    const hi = parseInt(hash.slice(0, 8), 16) >>> 0;
    const lo = parseInt(hash.slice(8, 16), 16) >>> 0;
    const mask = this.lengths.length - 1;
    let reuse = -1;
    for (let at = lo & mask; ; at = (at + 1) & mask) {
      const length = this.lengths[at]!;
      if (length === EMPTY) {
        const target = reuse >= 0 ? reuse : at;
        if (reuse < 0) this.filled++;
        this.put(target, hi, lo, slot);
        this.count++;
        return;
      }
      if (length === DELETED) {
        if (reuse < 0) reuse = at;
      } else if (this.hi[at] === hi && this.lo[at] === lo) {
        this.put(at, hi, lo, slot);
        return;
      }
    }
  }

  delete(hash: string): boolean {
    const at = this.find(hash);
    if (at < 0) return false;
    this.lengths[at] = DELETED;
    this.count--;
    return true;
  }

  private put(at: number, hi: number, lo: number, slot: Slot): void {
    this.hi[at] = hi;
    this.lo[at] = lo;
    this.offsets[at] = slot.offset;
    this.lengths[at] = slot.length + 1;
  }

  private find(hash: string): number {
    const hi = parseInt(hash.slice(0, 8), 16) >>> 0;
    const lo = parseInt(hash.slice(8, 16), 16) >>> 0;
    const mask = this.lengths.length - 1;
    for (let at = lo & mask; ; at = (at + 1) & mask) {
      const length = this.lengths[at]!;
      if (length === EMPTY) return -1;
      if (length !== DELETED && this.hi[at] === hi && this.lo[at] === lo) return at;
    }
  }

  /** Rehashes into a table twice the live count's need (dropping deleted slots). */
  private grow(): void {
    const { hi, lo, offsets, lengths } = this;
    const size = capacityFor(Math.max(this.count * 2, MIN_CAPACITY));
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.offsets = new Float64Array(size);
    this.lengths = new Uint32Array(size);
    this.filled = this.count;
    const mask = size - 1;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      if (length === EMPTY || length === DELETED) continue;
      let at = lo[i]! & mask;
      while (this.lengths[at] !== EMPTY) at = (at + 1) & mask;
      this.hi[at] = hi[i]!;
      this.lo[at] = lo[i]!;
      this.offsets[at] = offsets[i]!;
      this.lengths[at] = length;
    }
  }
}

/** A power of two holding `count` at a load of at most 3/4. */
function capacityFor(count: number): number {
  let size = MIN_CAPACITY;
  while (size * 3 < count * 4) size *= 2;
  return size;
}

/**
 * A set of entry hashes in the same table (about 30 bytes a hash instead of about 130 in a
 * Set of hex strings): what the entry cache's compaction keeps. A hash sharing its first 64
 * bits with a member counts as a member, so at worst a dead record is kept.
 */
export class EntryHashSet {
  private readonly table = new EntryCacheIndex();

  get size(): number {
    return this.table.size;
  }

  add(hash: string): void {
    this.table.set(hash, { offset: 0, length: 0 });
  }

  has(hash: string): boolean {
    return this.table.has(hash);
  }
}
