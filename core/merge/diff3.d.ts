/** Types for the `diff3` package (0.0.4), which ships none: a three-way merge of sequences. */
declare module 'diff3' {
  namespace diff3Merge {
    /** A stretch both sides agree on (or that only one side changed). */
    interface OkBlock<T> {
      ok: T[];
    }
    /** A stretch both sides changed differently: a = first side, o = base, b = second side. */
    interface ConflictBlock<T> {
      conflict: { a: T[]; aIndex: number; o: T[]; oIndex: number; b: T[]; bIndex: number };
    }
    type Block<T> = OkBlock<T> | ConflictBlock<T>;
  }
  /** Merges `a` and `b`, both derived from the base `o`; elements compare with `===`. */
  function diff3Merge<T>(a: readonly T[], o: readonly T[], b: readonly T[]): diff3Merge.Block<T>[];
  export = diff3Merge;
}

/** The package's internal two-way diff (Wu, Manber, Myers O(NP)); used by benchmarks as a baseline. */
declare module 'diff3/onp' {
  interface OnpHunk {
    file1: [number, number];
    file2: [number, number];
  }
  const Onp: new <T>(a: readonly T[], b: readonly T[]) => { compose(): OnpHunk[] };
  export = Onp;
}
