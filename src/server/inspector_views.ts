import { Admin } from '../client/admin.js';
import type { Credentials } from '../client/remoting/request_signer.js';
import { mapBounded } from '../client/bounded_parallel.js';
import type { GroupListing } from '../client/admin_groups.js';
import type { MessageQuery } from '../client/admin_message_query.js';
import type { ClusterView, NamesrvStatusView, RouteView } from '../client/admin_views.js';
import type { ReceivedMessage } from '../client/message.js';
import { MqError } from '../runtime/errors.js';
import type { TlsDialOptions } from '../tls/tls_dial.js';

export const inspector_view_limits = {
  /** Topics whose routes one cluster view lists; the rest are counted. */
  topics_max: 500,
  /** Body bytes a message view shows (as text or hex). */
  body_bytes_max: 64 * 1024,
  /** Route requests one cluster view has in flight at once. */
  route_requests_in_flight_max: 16,
} as const;

/** `GET /api/cluster`: the cluster as the node's nameservers see it. */
export interface ClusterPanel {
  nameservers: NamesrvStatusView[];
  brokers: ClusterView;
  topics: RouteView[];
  topicsLeftOut: number;
}

/** `GET /api/messages/<msgId>`: one message, its body as text when it is UTF-8, else hex. */
export interface MessagePanel extends Omit<ReceivedMessage, 'body'> {
  bodyBytes: number;
  bodyText: string | null;
  bodyHex: string;
  bodyTruncated: boolean;
}

/** `GET /api/messages?topic=T&key=K[&max=N]`: the topic's messages with a key, newest first. */
export interface MessageQueryPanel {
  messages: MessagePanel[];
  /** Broker groups that could not be asked (their messages may be missing), with why. */
  unanswered: string[];
}

function messagePanelOf(message: ReceivedMessage): MessagePanel {
  const { body, ...fields } = message;
  const shown = body.subarray(0, inspector_view_limits.body_bytes_max);
  const text = shown.toString('utf8');
  const is_text = Buffer.from(text, 'utf8').equals(shown) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  return { ...fields, bodyBytes: body.length, bodyText: is_text ? text : null, bodyHex: shown.toString('hex'), bodyTruncated: shown.length < body.length };
}

/**
 * The inspector's cluster-wide views, read through the client SDK from the nameservers and
 * brokers (what an operator's dashboard would ask), by one Admin client opened on first use
 * and closed with the node. Owned by the node's main thread.
 */
export class InspectorViews {
  private admin: Admin | undefined;
  /** A view being read is shared by every request for it meanwhile: pages and scripts that
   *  ask faster than the cluster answers do not pile up reads. */
  private cluster_read: Promise<ClusterPanel> | undefined;
  private groups_read: Promise<GroupListing> | undefined;

  constructor(
    private readonly namesrv_addresses: () => readonly string[],
    /** The node's TLS for its own connections (tls/node_tls.ts); undefined: plain TCP. */
    private readonly tls: () => TlsDialOptions | undefined = () => undefined,
    /** The node's account (access control): the inspector's requests are signed with it. */
    private readonly credentials: () => Credentials | undefined = () => undefined,
  ) {}

  cluster(): Promise<ClusterPanel> {
    this.cluster_read ??= this.readCluster().finally(() => {
      this.cluster_read = undefined;
    });
    return this.cluster_read;
  }

  groups(): Promise<GroupListing> {
    this.groups_read ??= this.client().groups().finally(() => {
      this.groups_read = undefined;
    });
    return this.groups_read;
  }

  async message(msg_id: string): Promise<MessagePanel> {
    return messagePanelOf(await this.client().getMessage(msg_id));
  }

  async messagesByKey(query: MessageQuery): Promise<MessageQueryPanel> {
    const found = await this.client().queryMessages(query);
    return { messages: found.messages.map(messagePanelOf), unanswered: found.unanswered };
  }

  private async readCluster(): Promise<ClusterPanel> {
    const admin = this.client();
    const [nameservers, brokers, topics] = await Promise.all([admin.namesrvStatus(), admin.cluster(), admin.listTopics()]);
    const shown = topics.slice(0, inspector_view_limits.topics_max);
    const routes = await mapBounded(shown, inspector_view_limits.route_requests_in_flight_max, (topic) => admin.route(topic).catch(() => undefined));
    return { nameservers, brokers, topics: routes.filter((route): route is RouteView => route !== undefined), topicsLeftOut: topics.length - shown.length };
  }

  async close(): Promise<void> {
    await this.admin?.close();
    this.admin = undefined;
  }

  private client(): Admin {
    if (this.admin === undefined) {
      const addresses = this.namesrv_addresses();
      if (addresses.length === 0) throw new MqError('BROKER_UNAVAILABLE', 'this node knows no nameserver yet (it is starting)');
      const tls = this.tls();
      const credentials = this.credentials();
      this.admin = new Admin({ namesrv: [...addresses], ...(tls === undefined ? {} : { tls }), ...(credentials === undefined ? {} : credentials) });
    }
    return this.admin;
  }
}
