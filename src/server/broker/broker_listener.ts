import { request_codes } from '../../protocol/index.js';
import type { Store } from '../../actors/store/store.js';
import { MqError } from '../../runtime/errors.js';
import { logger } from '../../runtime/log.js';
import { store_control } from '../../storage/store_control.js';
import type { BrokerConfig, StandaloneConfig } from '../config.js';
import { clientLimitsOf, dataDirs, formatHostPort } from '../config.js';
import { FrameServer } from '../remoting/frame_server.js';
import { RequestRouter } from '../remoting/request_router.js';
import type { Listener } from '../role.js';
import { AdminHandlers } from './admin_handlers.js';
import type { BrokerContext } from './broker_context.js';
import { ConsumerGroups } from './consumer_groups.js';
import { NamesrvRegistrar, registrar_limits } from './namesrv_registrar.js';
import { brokerEndpointsHandler } from './broker_endpoints_handler.js';
import { PullHold } from './pull_hold.js';
import { PullHandlers } from './pull_handlers.js';
import { ProducerGroups } from './producer_groups.js';
import { RetryHandlers } from './retry_handlers.js';
import { TransactionHandlers } from './transaction_handlers.js';
import { SendHandlers } from './send_handlers.js';
import { SlaveSync } from './slave_sync.js';
import { BrokerRole } from './broker_role.js';
import { BrokerTraffic, type TrafficSource } from './broker_traffic.js';
import { KnownQueues } from '../../storage/known_queues.js';
import { topic_config_limits, TopicConfigStore } from './topic_config_store.js';
import { nodeDialOptions, nodeServerOptions, type NodeTls } from '../../tls/node_tls.js';
import { addAclHandlers } from '../auth/acl_handlers.js';
import type { NodeAccess } from '../auth/node_access.js';

export interface BrokerListenerOptions {
  config: BrokerConfig | StandaloneConfig;
  store: Store;
  /** The nameservers to register with (read when registering: standalone's is known late). */
  namesrv_addresses: () => readonly string[];
  /** This broker's HA `host:port` ('' without an HA listener). */
  ha_address: () => string;
  heartbeat_interval_ms?: number;
  /** The node's TLS: this port serves it, and the broker dials nameservers and its master
   *  with it (tls/node_tls.ts); absent: plain TCP. */
  node_tls?: NodeTls | null;
  /** Access control: this port checks requests against the node's ACL, and the broker signs
   *  its requests to nameservers and its master with the node's account (auth/node_access.ts). */
  access?: NodeAccess;
}

/**
 * The broker's client port: the request handlers over the store, and the registration with
 * the nameservers, which starts once the port is bound (its address is what gets registered).
 * The connection handling runs on the main thread: a send costs one hop to the CommitLog
 * writer's thread and one back; a pull none (it reads the mapped files here).
 */
export interface BrokerListener extends Listener, TrafficSource {
  /** The broker's state and handlers, for the other front doors to the same broker (the
   *  RocketMQ 5 gRPC endpoint, server/grpc/): one store, one topic table, one send path. */
  readonly services: BrokerServices;
}

/** What another listener of the same broker uses of it (all owned by the main thread). */
export interface BrokerServices {
  readonly context: BrokerContext;
  readonly send: SendHandlers;
  readonly transactions: TransactionHandlers;
  /** Dead letters (the gRPC endpoint's pop engine stores its own through it). */
  readonly retry: RetryHandlers;
}

export function brokerListener(options: BrokerListenerOptions): BrokerListener {
  const { config, store } = options;
  const node_tls = options.node_tls ?? null;
  const dial_tls = node_tls === null ? undefined : nodeDialOptions(node_tls);
  const log = logger('broker', { broker: config.brokerName });
  const data_dir = dataDirs(config)[0] as string;
  const topics = new TopicConfigStore(data_dir, log).load();
  const pulls = new PullHold(store_control.attach(store.args.control));
  let registrar: NamesrvRegistrar | undefined;
  let broker_role: BrokerRole | undefined;
  const context: BrokerContext = {
    broker_name: config.brokerName,
    store,
    topics,
    groups: new ConsumerGroups(),
    producers: new ProducerGroups(),
    pulls,
    auto_create_topic: config.autoCreateTopic,
    default_queues: topic_config_limits.queues_default,
    log,
    max_delay_ms: config.maxDelayMs,
    retry_delays_ms: config.retryDelays,
    grpc_address: null,
    onTopicsChanged: () => registrar?.registerNow(),
    requireMaster: (what) => {
      if (store.role === 'slave') {
        throw new MqError('NOT_MASTER', `broker ${config.brokerName}/${config.brokerId} is a slave: ${what} goes to the master of ${config.brokerName}; refresh the route`);
      }
    },
  };
  const slave_sync = new SlaveSync({ client_id: `${config.brokerName}@${config.brokerId}`, topics, offsets: store.offsets, log, onTopicsChanged: () => registrar?.registerNow(), tls: dial_tls, credentials: options.access?.credentials });
  const traffic = new BrokerTraffic();
  const send = new SendHandlers(context, traffic);
  const pull = new PullHandlers(context, traffic);
  const retry = new RetryHandlers(context, send);
  const admin = new AdminHandlers(context, retry);
  const transactions = new TransactionHandlers(context, config.transactionCheckIntervalMs);
  const router = new RequestRouter()
    .on(request_codes.SEND, send.send)
    .on(request_codes.SEND_BATCH, send.sendBatch)
    .on(request_codes.PULL, pull.pull)
    .on(request_codes.GET_MIN_OFFSET, pull.minOffset)
    .on(request_codes.GET_MAX_OFFSET, pull.maxOffset)
    .on(request_codes.QUERY_CONSUMER_OFFSET, pull.queryConsumerOffset)
    .on(request_codes.COMMIT_CONSUMER_OFFSET, pull.commitConsumerOffset)
    .on(request_codes.CREATE_TOPIC, admin.createTopic)
    .on(request_codes.GET_ALL_TOPIC_CONFIG, admin.allTopicConfig)
    .on(request_codes.GET_ALL_CONSUMER_OFFSET, admin.allConsumerOffset)
    .on(request_codes.GET_MESSAGE, admin.getMessage)
    .on(request_codes.QUERY_MESSAGE, admin.queryMessage)
    .on(request_codes.HEARTBEAT, admin.heartbeat)
    .on(request_codes.UNREGISTER_CLIENT, admin.unregisterClient)
    .on(request_codes.GET_CONSUMER_LIST, admin.consumerList)
    .on(request_codes.GET_CONSUMER_CONNECTION_LIST, admin.consumerConnectionList)
    .on(request_codes.CONSUMER_SEND_BACK, retry.sendBack)
    .on(request_codes.RESEND_DEAD_LETTER, retry.resendDeadLetter)
    .on(request_codes.END_TRANSACTION, transactions.endTransaction)
    .on(request_codes.GET_BROKER_ENDPOINTS, brokerEndpointsHandler(context, () => broker_role?.broker_id ?? config.brokerId));
  addAclHandlers(router, options.access?.acl_file, log);
  const auth = options.access?.listenerAuth();
  const server = new FrameServer({
    server_id: `${config.brokerName}@${config.brokerId}`,
    router,
    log,
    connections_per_address_max: config.connectionsPerAddressMax,
    client_limits: clientLimitsOf(config),
    ...(node_tls === null ? {} : { tls: nodeServerOptions(node_tls) }),
    listener: 'broker',
    ...(auth === undefined ? {} : { auth }),
    onDisconnect: (connection) => {
      pulls.release(connection);
      if (connection.client_id !== '') context.groups.leave(connection.client_id);
      context.producers.leave(connection);
    },
  });
  return {
    key: 'broker',
    services: { context, send, transactions, retry },
    heldPulls: () => pulls.size,
    topicTraffic: () => traffic.snapshot(),
    async start() {
      const bound = await server.listen(config.host, config.port);
      const address = formatHostPort({ host: config.advertiseHost, port: bound.port });
      const role = new BrokerRole({
        store,
        configured_id: config.brokerId,
        broker_name: config.brokerName,
        namesrv_addresses: options.namesrv_addresses,
        slave_sync,
        log,
        tls: dial_tls,
        credentials: options.access?.credentials,
        registerNow: () => registrar?.registerNow(),
        beatNow: () => registrar?.beatNow(),
        onPromoted: () => {
          // Topics created on the old master since the last copy are in the log's queues.
          if (topics.addMissing(new KnownQueues(data_dir, log).load().list()) > 0) registrar?.registerNow();
        },
      });
      broker_role = role;
      registrar = new NamesrvRegistrar({
        namesrv_addresses: options.namesrv_addresses,
        identity: () => ({ cluster: config.cluster, brokerName: config.brokerName, brokerId: role.broker_id, address }),
        ha_address: options.ha_address,
        epoch: () => role.epoch,
        replication: () => role.replication,
        topics,
        onAnswer: (view) => role.onAnswer(view),
        onFenced: (error) => role.onFenced(error.message),
        heartbeat_interval_ms: options.heartbeat_interval_ms ?? registrar_limits.heartbeat_interval_ms_default,
        log,
        tls: dial_tls,
        credentials: options.access?.credentials,
      });
      await role.start();
      // Ready once the nameservers answered (or failed) a first time: a master then takes
      // writes, a slave knows whom to follow.
      await registrar.start();
      await role.firstRoundDone();
      transactions.start();
      return bound;
    },
    async stop() {
      await registrar?.stop();
      await broker_role?.stop();
      await slave_sync.stop();
      await transactions.stop();
      pulls.close();
      await server.close();
    },
  };
}
