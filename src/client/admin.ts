import {
  decodeNsStatus,
  encodeNsStatusRequest,
  checkName,
  deadLetterTopicOf,
  decodeClusterInfo,
  decodeGetMessageResponse,
  decodeTopicList,
  decodeTopicRouteData,
  encodeCreateTopicRequest,
  encodeGetClusterInfoRequest,
  encodeGetMessageRequest,
  encodeGetRouteRequest,
  encodeGetTopicListRequest,
  perm_read,
  perm_write,
  request_codes,
} from '../protocol/index.js';
import { MqError, toMqError } from '../runtime/errors.js';
import { dead_letter_limits, isDeadLetterOf, readDeadLetters, resendLocated, type DeadLetterDeps, type DeadLetterResend } from './admin_dead_letters.js';
import { scanGroupLag } from './admin_group_lag.js';
import { listGroups, type GroupListing } from './admin_groups.js';
import { deleteAclAccount, listAcl, upsertAclAccount, type AclAccount, type AclDeps, type AclNodeOutcome } from './admin_acl.js';
import { queryMessagesByKey, type MessageQuery, type MessageQueryResult } from './admin_message_query.js';
import { clusterViewOf, routeViewOf, type ClusterView, type CreateTopicRequestOptions, type GroupLag, type NamesrvStatusView, type RouteView } from './admin_views.js';
import { resolveAdminTimeout, resolveClientOptions, type AdminOptions, type ResolvedClientOptions } from './client_options.js';
import { ConnectionPool, type PoolLease } from './connection_pool.js';
import { receivedMessageOf, type ReceivedMessage, type SendResult } from './message.js';
import { parseMessageId } from './message_id.js';
import { NamesrvClient } from './namesrv_client.js';
import { sleep } from './retry_backoff.js';

export const admin_limits = {
  /** The contract's example; a topic gets this many queues per broker group unless told. */
  queues_default: 8,
  /** The broker's limit (topic_config_store.ts). */
  queues_max: 1_024,
  /**
   * How long createTopic waits for the nameserver's route to show the topic on every
   * broker it was created on: brokers register a change at once, but a registration may
   * be lost and then arrives with the next heartbeat (30 s by default).
   */
  create_topic_route_wait_ms: 35_000,
  /** Pause between two looks at the route while waiting. */
  route_poll_interval_ms: 50,
} as const;

/**
 * Administration of a cluster through its nameservers and brokers (contract.md):
 * topics, routes, brokers, message lookup by id, consumer-group lag and dead letters. Connections are
 * opened on first use, shared with the other SDK objects of the same instance name, and
 * released by `close()`.
 */
export class Admin {
  private readonly options: ResolvedClientOptions;
  private readonly timeout_ms: number;
  private readonly lease: PoolLease;
  private readonly namesrv: NamesrvClient;

  constructor(options: AdminOptions) {
    this.options = resolveClientOptions(options, 'Admin');
    this.timeout_ms = resolveAdminTimeout(options);
    this.lease = ConnectionPool.lease({ instance_name: this.options.instance_name, clock: this.options.clock, random: this.options.random, owner: 'admin', tls: this.options.tls, credentials: this.options.credentials });
    this.namesrv = new NamesrvClient(this.lease, this.options.namesrv_addresses, this.timeout_ms);
  }

  /**
   * Creates (or updates) the topic on every master broker of the cluster (or of `cluster`),
   * then waits until the nameserver's route lists it on each of them. Resolves with that route.
   */
  async createTopic(request: CreateTopicRequestOptions): Promise<RouteView> {
    if (typeof request !== 'object' || request === null) throw new MqError('BAD_REQUEST', 'createTopic takes { topic, queues? }');
    const bad_name = checkName('topic', request.topic);
    if (bad_name !== undefined) throw new MqError('BAD_REQUEST', bad_name.message);
    const queues = request.queues ?? admin_limits.queues_default;
    if (!Number.isInteger(queues) || queues < 1 || queues > admin_limits.queues_max) {
      throw new MqError('BAD_REQUEST', `queues must be an integer 1..${admin_limits.queues_max}, not ${String(request.queues)}`);
    }
    const masters = (await this.cluster()).groups
      .filter((group) => request.cluster === undefined || group.cluster === request.cluster)
      .flatMap((group) => group.members.filter((member) => member.brokerId === 0).map((member) => ({ brokerName: group.brokerName, address: member.address })));
    if (masters.length === 0) {
      throw new MqError('NO_ROUTE', `no master broker is registered with the nameserver${request.cluster === undefined ? '' : ` in cluster '${request.cluster}'`}; start a broker first`);
    }
    const body = encodeCreateTopicRequest({ topic: request.topic, queues, perm: perm_read | perm_write });
    const outcomes = await Promise.allSettled(masters.map((master) => this.lease.request(master.address, request_codes.CREATE_TOPIC, body, { timeout_ms: this.timeout_ms })));
    const failed = outcomes.flatMap((outcome, index) => outcome.status === 'rejected' ? [`${masters[index]?.brokerName}: ${toMqError(outcome.reason).message}`] : []);
    if (failed.length > 0) {
      const first = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
      throw new MqError(toMqError(first.reason).code, `topic '${request.topic}' was not created on ${failed.length} of ${masters.length} broker(s): ${failed.join('; ')}; run createTopic again when they are back`);
    }
    return this.untilRouted(request.topic, masters.map((master) => master.brokerName), queues);
  }

  /** The names of the topics the nameserver routes (optionally of one cluster), sorted. */
  async listTopics(options: { cluster?: string } = {}): Promise<string[]> {
    const reply = decodeTopicList(await this.namesrv.request(request_codes.GET_TOPIC_LIST, encodeGetTopicListRequest({ cluster: options.cluster ?? null })));
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable topic list from the nameserver: ${reply.error.message}`);
    return [...reply.value.topics];
  }

  /** The topic's route: its broker groups with their addresses, and its queues on each. */
  async route(topic: string): Promise<RouteView> {
    const bad_name = checkName('topic', topic);
    if (bad_name !== undefined) throw new MqError('BAD_REQUEST', bad_name.message);
    const reply = decodeTopicRouteData(await this.namesrv.request(request_codes.GET_ROUTE, encodeGetRouteRequest({ topic })));
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable route from the nameserver: ${reply.error.message}`);
    return routeViewOf(reply.value);
  }

  /** Every broker group and broker the nameserver knows, with roles, addresses and heartbeats. */
  async cluster(): Promise<ClusterView> {
    const answer = await this.namesrv.requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}));
    const reply = decodeClusterInfo(answer.body, answer.protocol_version);
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable cluster info from the nameserver: ${reply.error.message}`);
    return clusterViewOf(reply.value, answer.protocol_version);
  }

  /**
   * Every configured nameserver's part in the replicated registry, each asked directly: its
   * role, term, leader, log end and commit position (a node that does not answer says why).
   */
  async namesrvStatus(): Promise<NamesrvStatusView[]> {
    return Promise.all(
      this.options.namesrv_addresses.map(async (address): Promise<NamesrvStatusView> => {
        try {
          const reply = decodeNsStatus(await this.lease.request(address, request_codes.NS_STATUS, encodeNsStatusRequest({ withSnapshot: false }), { timeout_ms: this.timeout_ms }));
          if (!reply.ok) return { address, status: null, error: `unreadable status: ${reply.error.message}` };
          const { role, mode, term, leader, lastSeq, commitSeq, chain, snapshotsInstalled, semiSyncFallbacks } = reply.value;
          return { address, status: { role, mode, term, leader, lastSeq, commitSeq, chain: [...chain], snapshotsInstalled, semiSyncFallbacks }, error: null };
        } catch (error) {
          return { address, status: null, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
  }

  /**
   * The message with this id. The id names the broker that stored it (its store host);
   * that broker is asked first, then every other broker of the cluster (a broker may
   * advertise another address than the one it stamps into ids).
   */
  async getMessage(msgId: string): Promise<ReceivedMessage> {
    const { storeHost } = parseMessageId(msgId);
    const brokers = (await this.cluster()).groups.flatMap((group) => group.members.map((member) => ({ brokerName: group.brokerName, address: member.address, brokerId: member.brokerId })));
    brokers.sort((a, b) => Number(b.address === storeHost) - Number(a.address === storeHost) || a.brokerId - b.brokerId);
    const tried: string[] = [];
    for (const broker of brokers) {
      try {
        const reply = decodeGetMessageResponse(await this.lease.request(broker.address, request_codes.GET_MESSAGE, encodeGetMessageRequest({ msgId }), { timeout_ms: this.timeout_ms }));
        if (!reply.ok) throw new MqError('INTERNAL', `unreadable GET_MESSAGE reply: ${reply.error.message}`);
        if (reply.value.msgId.toUpperCase() !== msgId.toUpperCase()) throw new MqError('BAD_REQUEST', `it holds ${reply.value.msgId} there`);
        return receivedMessageOf(reply.value, broker.brokerName);
      } catch (thrown) {
        const error = toMqError(thrown);
        if (error.code === 'SHUTTING_DOWN' && !error.retriable) throw error;
        tried.push(`${broker.brokerName}@${broker.address}: ${error.code}`);
      }
    }
    throw new MqError('BAD_REQUEST', `no broker of the cluster has message ${msgId} (stored by ${storeHost}; asked ${tried.length === 0 ? 'none: no broker is registered' : tried.join(', ')}); check the id, or the message may have been deleted by retention`);
  }

  /**
   * The ACL of every nameserver (the configured ones) and every broker the nameservers know,
   * each node answering for itself (secret keys are never listed). Needs an admin account.
   */
  async aclList(): Promise<AclNodeOutcome[]> {
    return listAcl(this.aclDeps());
  }

  /** Adds or replaces `account` in every node's ACL (each writes its file); per-node outcomes. */
  async aclUpsert(account: AclAccount): Promise<AclNodeOutcome[]> {
    return upsertAclAccount(this.aclDeps(), account);
  }

  /** Removes the account from every node's ACL; per-node outcomes. */
  async aclDelete(accessKey: string): Promise<AclNodeOutcome[]> {
    return deleteAclAccount(this.aclDeps(), accessKey);
  }

  private aclDeps(): AclDeps {
    return {
      cluster: () => this.cluster(),
      namesrvAddresses: this.options.namesrv_addresses,
      request: (address, code, body) => this.lease.request(address, code, body, { timeout_ms: this.timeout_ms }),
    };
  }

  /**
   * The topic's messages stored with business key `key` (one of the keys a producer gave),
   * newest first, found through each broker's key index; `unanswered` names the broker groups
   * that could not be asked (their messages may be missing).
   */
  async queryMessages(query: MessageQuery): Promise<MessageQueryResult> {
    return queryMessagesByKey({
      route: (topic) => this.route(topic),
      brokerRequest: (address, code, body) => this.lease.request(address, code, body, { timeout_ms: this.timeout_ms }),
      brokerProtocolVersion: async (address) => (await this.lease.connection(address, this.timeout_ms)).protocol_version,
    }, query);
  }

  /**
   * A consumer group's lag per queue. With `topic`, every queue of that topic; without, the
   * queues of every topic where the group has committed an offset (brokers do not tell which
   * topics a group subscribes to).
   */
  async groupLag(group: string, options: { topic?: string } = {}): Promise<GroupLag> {
    const bad_group = checkName('group', group);
    if (bad_group !== undefined) throw new MqError('BAD_REQUEST', bad_group.message);
    const topics = options.topic === undefined ? await this.listTopics() : [options.topic];
    return scanGroupLag(
      {
        route: (topic) => this.route(topic),
        brokerRequest: (address, code, body) => this.lease.request(address, code, body, { timeout_ms: this.timeout_ms }),
      },
      group,
      topics,
      options.topic === undefined,
    );
  }

  /** Every consumer group with committed offsets: its live members, the queues each reads, and lag per queue. */
  async groups(): Promise<GroupListing> {
    return listGroups({
      cluster: () => this.cluster(),
      brokerRequest: (address, code, body) => this.lease.request(address, code, body, { timeout_ms: this.timeout_ms }),
      brokerProtocolVersion: async (address) => (await this.lease.connection(address, this.timeout_ms)).protocol_version,
      groupLag: (group) => this.groupLag(group),
    });
  }

  /**
   * The group's dead letters (`%DLQ%<group>`: messages its clustering consumers failed
   * `maxReconsumeTimes` times), oldest first, at most `max` (default 100). Read-only: no
   * offset is committed. A group with no dead letter yet has none ([]).
   */
  async deadLetters(group: string, options: { max?: number } = {}): Promise<ReceivedMessage[]> {
    checkGroup(group);
    const max = listMax(options.max);
    return (await readDeadLetters(this.deadLetterDeps(), group, max)).map((located) => located.message);
  }

  /**
   * Sends the group's dead letter with this id (its own id, or the id its producer got, as in
   * `properties.ORIGIN_MESSAGE_ID`) back to the topic it failed in, its attempt count reset;
   * resolves with where it was stored. The dead letter stays in `%DLQ%<group>` (a second
   * resend sends it again). BAD_REQUEST when no dead letter of the group has the id.
   */
  async resendDeadLetter(group: string, msgId: string): Promise<SendResult> {
    checkGroup(group);
    if (typeof msgId !== 'string' || msgId.trim() === '') throw new MqError('BAD_REQUEST', 'resendDeadLetter needs a message id');
    const deps = this.deadLetterDeps();
    const [found] = await readDeadLetters(deps, group, dead_letter_limits.scan_max, (message) => isDeadLetterOf(message, msgId.trim()));
    if (found === undefined) {
      throw new MqError('BAD_REQUEST', `no dead letter of group ${group} has message id ${msgId} (looked in ${deadLetterTopicOf(group)}, as its own id and as ORIGIN_MESSAGE_ID); list them with \`mq-node admin dlq list --group ${group}\``);
    }
    return resendLocated(deps, found);
  }

  /**
   * Resends each of the group's dead letters that `deadLetters(group, { max })` lists, oldest
   * first, one at a time; a failure is reported in its entry and the others go on.
   */
  async resendDeadLetters(group: string, options: { max?: number } = {}): Promise<DeadLetterResend[]> {
    checkGroup(group);
    const deps = this.deadLetterDeps();
    const outcomes: DeadLetterResend[] = [];
    for (const located of await readDeadLetters(deps, group, listMax(options.max))) {
      try {
        outcomes.push({ deadLetter: located.message, result: await resendLocated(deps, located), error: null });
      } catch (thrown) {
        const error = toMqError(thrown);
        if (error.code === 'SHUTTING_DOWN' && !error.retriable) throw error;
        outcomes.push({ deadLetter: located.message, result: null, error });
      }
    }
    return outcomes;
  }

  /** Releases the connections (closed when no other SDK object of this instance uses them). */
  async close(): Promise<void> {
    this.lease.close();
  }

  private deadLetterDeps(): DeadLetterDeps {
    return {
      route: (topic) => this.route(topic),
      brokerRequest: (address, code, body) => this.lease.request(address, code, body, { timeout_ms: this.timeout_ms }),
    };
  }

  private async untilRouted(topic: string, broker_names: readonly string[], queues: number): Promise<RouteView> {
    const deadline_ms = this.options.clock.monotonicMs() + admin_limits.create_topic_route_wait_ms;
    let last: string = 'no route yet';
    for (;;) {
      try {
        const route = await this.route(topic);
        const missing = broker_names.filter((name) => !route.queues.some((queue) => queue.brokerName === name && queue.writeQueues === queues && queue.readQueues === queues));
        if (missing.length === 0) return route;
        last = `the route lacks ${missing.join(', ')} with ${queues} queues`;
      } catch (thrown) {
        const error = toMqError(thrown);
        if (error.code !== 'TOPIC_NOT_FOUND' && error.code !== 'NO_ROUTE') throw error;
        last = error.message;
      }
      if (this.options.clock.monotonicMs() >= deadline_ms) {
        throw new MqError('TIMEOUT', `topic '${topic}' was created on ${broker_names.join(', ')}, but after ${admin_limits.create_topic_route_wait_ms} ms the nameserver still does not route it (${last}); check that the brokers reach the nameserver`);
      }
      await sleep(admin_limits.route_poll_interval_ms);
    }
  }
}

function checkGroup(group: string): void {
  const bad_group = checkName('group', group);
  if (bad_group !== undefined) throw new MqError('BAD_REQUEST', bad_group.message);
}

function listMax(max: number | undefined): number {
  if (max === undefined) return dead_letter_limits.list_max_default;
  if (!Number.isInteger(max) || max < 1 || max > dead_letter_limits.scan_max) {
    throw new MqError('BAD_REQUEST', `max must be an integer 1..${dead_letter_limits.scan_max}, not ${String(max)}`);
  }
  return max;
}
