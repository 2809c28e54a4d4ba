/** Bounds of the CommitLog writer (style rule 3). */
export const commit_log_limits = {
  /**
   * A segment retention deleted keeps its pages this long before its disk blocks are given
   * back (SegmentSet.retireBefore): a pull, a lookup or a dispatch that checked the old min
   * offset reads and copies within the same synchronous step, so this is ample. The HA
   * stream, whose queued bytes are views of the segments, is covered by `ha_stream_floor`.
   */
  retired_release_grace_ms: 1_000,
} as const;
