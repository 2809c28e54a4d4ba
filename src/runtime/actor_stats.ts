/** What the control plane reports about one actor (inspector, /api/actors, /metrics). */
export interface ActorStats {
  address: string;
  /** The actor definition's name, e.g. `commit_log`, `probe`. */
  kind: string;
  /** Index of the worker thread that hosts it (1..threads; 0 is the main thread). */
  thread: number;
  status: 'running' | 'restarting' | 'failed' | 'stopped';
  mailboxDepth: number;
  handled: number;
  ratePerSecond: number;
  /** Time spent inside the actor's handler, summed. */
  busyMs: number;
  restarts: number;
  lastError: string | null;
}

/** What one worker thread reports of itself (/metrics): its V8 heap and how late its event
 *  loop ran timers since the last report (a busy or blocked thread delays everything on it). */
export interface ThreadStats {
  thread: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Event-loop delay since the previous report: median, 99th percentile and maximum. */
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}
