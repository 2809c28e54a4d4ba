import type { ServerResponse } from 'node:http';
import type { Bound } from './admin_server.js';
import type { AdminSource } from './admin_source.js';

export const inspector_event_limits = {
  /** How often an open inspector page gets a new snapshot. */
  interval_ms: 1_000,
  /** Pages watching one node at once; another gets 503 (each costs a read of every thread per second). */
  streams_max: 16,
} as const;

/**
 * `GET /api/events`: server-sent events for the inspector page, one `snapshot` event per
 * second with what /api/actors and /api/store answer, and traffic totals for the charts:
 * `{"atMs", "actors", "actorsError", "store", "totals": {"messagesIn", "messagesOut", "lag"}}`
 * (store null on a node without one, or with the error when it could not be read; totals 0
 * and lag null on a node without a broker). A read that is
 * still running when the next one is due is not doubled. Owned by the admin server's thread.
 */
export class InspectorEvents {
  private streams = 0;

  constructor(
    private readonly source: AdminSource,
    private readonly bounded: Bound,
  ) {}

  open(response: ServerResponse): boolean {
    if (this.streams >= inspector_event_limits.streams_max) return false;
    this.streams++;
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    let reading = false;
    const send = async (): Promise<void> => {
      if (reading) return;
      reading = true;
      try {
        response.write(`event: snapshot\ndata: ${JSON.stringify(await this.snapshot())}\n\n`);
      } finally {
        reading = false;
      }
    };
    void send();
    const timer = setInterval(() => void send(), inspector_event_limits.interval_ms);
    response.on('close', () => {
      clearInterval(timer);
      this.streams--;
    });
    return true;
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
