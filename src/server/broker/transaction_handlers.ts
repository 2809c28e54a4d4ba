import {
  checkName,
  decodeEndTransactionRequest,
  encodeEndTransactionResponse,
  system_properties,
  type EndTransactionRequest,
  type EndTransactionResult,
  type StoredMessage,
} from '../../protocol/index.js';
import type { DueCheck } from '../../actors/transaction/transaction_messages.js';
import { MqError } from '../../runtime/errors.js';
import { decodeMessageId } from '../../storage/message_id.js';
import { decodeMessageProperties } from '../../storage/message_properties.js';
import type { RequestContext } from '../remoting/request_router.js';
import type { BrokerContext } from './broker_context.js';
import { storedMessageOf } from './stored_message.js';
import { framedCheckTargets, type TransactionCheckTarget, type TransactionCheckTargets } from './transaction_check_target.js';

export const transaction_check_limits = {
  /** Check-backs handed out per round. */
  checks_per_round_max: 256,
  /** Rounds run this often: a quarter of the check interval, within these bounds. */
  round_ms_min: 100,
  round_ms_max: 1_000,
  request_timeout_ms: 10_000,
} as const;

/**
 * END_TRANSACTION, and the check-back rounds: the transaction actor (store/transaction) says
 * which half messages are due a check; each is sent to a live producer of its group, found by
 * the check-back target sources in order (transaction_check_target.ts): the remoting
 * producer connections (CHECK_TRANSACTION_STATE, one-way; they answer END_TRANSACTION), then
 * what other front doors add (the gRPC endpoint: a Telemetry command; the client answers with
 * its EndTransaction). A group with no live producer is not asked, but the check counts:
 * after the maximum the actor rolls back. Runs on the broker's main thread, which owns the
 * connections and streams.
 */
export class TransactionHandlers {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private readonly targets: TransactionCheckTargets[];

  constructor(
    private readonly broker: BrokerContext,
    private readonly check_interval_ms: number,
  ) {
    this.targets = [framedCheckTargets(broker.producers)];
  }

  /** Adds a source of check-back targets (another front door's producers); the returned function removes it. */
  addCheckTargets(targets: TransactionCheckTargets): () => void {
    this.targets.push(targets);
    return () => {
      const at = this.targets.indexOf(targets);
      if (at >= 0) this.targets.splice(at, 1);
    };
  }

  readonly endTransaction = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    this.broker.requireMaster('a transaction outcome');
    const decoded = decodeEndTransactionRequest(body);
    if (!decoded.ok) throw new MqError('BAD_REQUEST', `END_TRANSACTION body: ${decoded.error.message}`);
    const request = decoded.value;
    // Deciding a transaction publishes (or withdraws) its message: PUB on its real topic.
    if (context.access_control) context.authorize({ kind: 'topic', topic: this.halfTopic(request.commitLogOffset), perm: 'PUB' });
    return encodeEndTransactionResponse({ result: await this.decide(request) });
  };

  /**
   * Records a producer's outcome of a half message (END_TRANSACTION, and the gRPC endpoint's
   * EndTransaction): checks the group and that the id names the offset, then asks the
   * transaction actor. The caller has checked the caller's permission.
   */
  async decide(request: EndTransactionRequest): Promise<EndTransactionResult> {
    this.broker.requireMaster('a transaction outcome');
    const bad_group = checkName('group', request.producerGroup);
    if (bad_group !== undefined) throw new MqError('BAD_REQUEST', bad_group.message);
    if (decodeMessageId(request.msgId).commit_log_offset !== request.commitLogOffset) {
      throw new MqError('BAD_REQUEST', `message id ${request.msgId} does not name CommitLog offset ${request.commitLogOffset}; send the half message's SendResult msgId and commitLogOffset`);
    }
    let result: string;
    try {
      result = (await this.broker.store.transactions.ask({ kind: 'end', half_offset: request.commitLogOffset, outcome: request.outcome }, { timeout_ms: transaction_check_limits.request_timeout_ms })).result;
    } catch (error) {
      if (error instanceof MqError && (error.code === 'ACTOR_UNAVAILABLE' || error.code === 'BUSY' || error.code === 'TIMEOUT')) {
        throw new MqError('BROKER_UNAVAILABLE', `the transaction outcome could not be recorded now (${error.message}); the broker will check back`);
      }
      throw error;
    }
    if (request.fromCheck) this.broker.log.debug({ half_offset: request.commitLogOffset, outcome: request.outcome, result }, 'check-back answered');
    return result as EndTransactionResult;
  }

  /** The topic a half message will be published to; BAD_REQUEST when the offset holds none. */
  halfTopic(commit_log_offset: number): string {
    let half;
    try {
      half = this.broker.store.reader.readRecord(commit_log_offset);
    } catch {
      throw new MqError('BAD_REQUEST', `CommitLog offset ${commit_log_offset} holds no half message on broker ${this.broker.broker_name}`);
    }
    return decodeMessageProperties(half.properties).properties[system_properties.real_topic] ?? half.topic;
  }

  start(): void {
    const round_ms = Math.min(transaction_check_limits.round_ms_max, Math.max(transaction_check_limits.round_ms_min, Math.floor(this.check_interval_ms / 4)));
    this.timer = setInterval(() => {
      this.round ??= this.checkRound().finally(() => (this.round = undefined));
    }, round_ms);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  private async checkRound(): Promise<void> {
    // A slave runs no transaction actor: its master checks back.
    if (this.broker.store.role === 'slave') return;
    let due: DueCheck[];
    try {
      due = (await this.broker.store.transactions.ask({ kind: 'due_checks', max: transaction_check_limits.checks_per_round_max }, { timeout_ms: transaction_check_limits.request_timeout_ms })).checks;
    } catch (error) {
      this.broker.log.warn({ err: error }, 'transaction check-back round skipped: the transaction actor did not answer');
      return;
    }
    for (const check of due) this.checkBack(check);
  }

  private checkBack(check: DueCheck): void {
    let message: StoredMessage;
    try {
      message = asSent(storedMessageOf(this.broker.store.reader.readRecord(check.half_offset)));
    } catch (error) {
      this.broker.log.error({ err: error, half_offset: check.half_offset }, 'check-back: the half message cannot be read');
      return;
    }
    const target = this.pickTarget(check.producer_group, message.topic);
    if (target === undefined) {
      this.broker.log.debug({ half_offset: check.half_offset, producer_group: check.producer_group, check_times: check.check_times }, 'check-back: no live producer of the group');
      return;
    }
    if (!target.ask({ producer_group: check.producer_group, half_offset: check.half_offset, check_times: check.check_times, message })) {
      this.broker.log.debug({ half_offset: check.half_offset, producer: target.description }, 'check-back not sent: the producer is going away');
    }
  }

  private pickTarget(producer_group: string, topic: string): TransactionCheckTarget | undefined {
    for (const targets of this.targets) {
      const target = targets.pick(producer_group, topic);
      if (target !== undefined) return target;
    }
    return undefined;
  }
}

/** A half message as its producer sent it: its real topic and queue, its own properties. */
function asSent(half: StoredMessage): StoredMessage {
  const properties = { ...half.properties };
  const topic = properties[system_properties.real_topic] ?? half.topic;
  const queue_id = Number(properties[system_properties.real_queue_id] ?? half.queueId);
  delete properties[system_properties.real_topic];
  delete properties[system_properties.real_queue_id];
  delete properties[system_properties.producer_group];
  return { ...half, topic, queueId: queue_id, properties };
}
