import type { ServerResponse } from 'node:http';
import type { Bound } from './admin_server.js';
import type { AdminSource } from './admin_source.js';

export const inspector_event_limits = {
  /** How often open inspector pages get a new snapshot. */
  interval_ms: 1_000,
  /** Pages watching one node at once; another gets 503. */
  streams_max: 16,
  /** A page that does not read its stream is closed once this much waits for it. */
  stream_buffer_bytes_max: 4 << 20,
} as const;

/**
 * `GET /api/events`: server-sent events for the inspector page, one `snapshot` event per
 * second with what /api/actors and /api/store answer, and traffic totals for the charts:
 * `{"atMs", "actors", "actorsError", "store", "totals": {"messagesIn", "messagesOut", "lag"}}`
 * (store null on a node without one, or with the error when it could not be read; totals 0
 * and lag null on a node without a broker).
 *
 * One snapshot is read per second however many pages watch, and sent to each; none is read
 * while nobody watches, and a read still running when the next is due is not doubled. A page
 * that stops reading is closed before its backlog grows past a bound. Owned by the admin
 * server's thread.
 */
export class InspectorEvents {
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(
    private readonly source: AdminSource,
    private readonly bounded: Bound,
  ) {}

  open(response: ServerResponse): boolean {
    if (this.streams.size >= inspector_event_limits.streams_max) return false;
    this.streams.add(response);
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    response.on('close', () => {
      this.streams.delete(response);
      if (this.streams.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    this.timer ??= setInterval(() => void this.broadcast(), inspector_event_limits.interval_ms);
    void this.broadcast();
    return true;
  }

  private async broadcast(): Promise<void> {
    if (this.reading || this.streams.size === 0) return;
    this.reading = true;
    let event: string;
    try {
      event = `event: snapshot\ndata: ${JSON.stringify(await this.snapshot())}\n\n`;
    } finally {
      this.reading = false;
    }
    for (const stream of this.streams) {
      if (stream.writableLength > inspector_event_limits.stream_buffer_bytes_max) stream.destroy();
      else stream.write(event);
    }
  }

  private async snapshot(): Promise<Record<string, unknown>> {
    let actors: unknown = [];
    let actors_error: string | null = null;
    try {
      actors = await this.bounded(this.source.listActors(), 'listing the actors');
    } catch (error) {
      actors_error = error instanceof Error ? error.message : String(error);
    }
    let store: unknown = null;
    if (this.source.storeView !== undefined) {
      try {
        store = this.source.storeView();
      } catch (error) {
        store = { error: error instanceof Error ? error.message : String(error) };
      }
    }
    // Totals for the charts: the page turns successive totals into rates.
    const traffic = this.source.topicTraffic?.() ?? [];
    let lag: number | null = null;
    if (this.source.groupLags !== undefined) {
      try {
        lag = (await this.bounded(this.source.groupLags(), 'reading the group lag')).reduce((sum, entry) => sum + entry.lag_messages, 0);
      } catch {
        lag = null;
      }
    }
    const totals = {
      messagesIn: traffic.reduce((sum, topic) => sum + topic.messages_in, 0),
      messagesOut: traffic.reduce((sum, topic) => sum + topic.messages_out, 0),
      lag,
    };
    return { atMs: Date.now(), actors, actorsError: actors_error, store, totals };
  }
}
