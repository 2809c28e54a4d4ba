import { checkName, type BrokerIdentity, type TopicConfig } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { registry_limits } from './registry_limits.js';

/**
 * Checks of what brokers and clients send the registry, beyond what the Avro decoder already
 * guarantees (types, bounded sizes). Every failure is a BAD_REQUEST that says which field is
 * wrong and what is allowed, because the sender is a misconfigured broker or tool whose
 * operator needs to fix it.
 */

/** The `--cluster` / `--broker-name` rule (config_values.ts nameType). */
const group_name_pattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** host:port, the host a DNS name, IPv4 or a bracketed IPv6 literal. */
const address_pattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$/;
/** Slave ids are 1..broker_id_max. */
export const broker_id_max = 1_023;
const perm_bits_max = 7;

export function checkBrokerIdentity(identity: BrokerIdentity): void {
  checkGroupName('cluster', identity.cluster);
  checkGroupName('brokerName', identity.brokerName);
  if (!Number.isInteger(identity.brokerId) || identity.brokerId < 0 || identity.brokerId > broker_id_max) {
    throw new MqError('BAD_REQUEST', `brokerId ${identity.brokerId} is invalid: use 0 for a master and 1..${broker_id_max} for slaves`);
  }
  checkAddress('address', identity.address);
}

function checkGroupName(field: string, name: string): void {
  if (name.length <= registry_limits.name_chars_max && group_name_pattern.test(name)) return;
  throw new MqError(
    'BAD_REQUEST',
    `${field} ${JSON.stringify(name.slice(0, 40))} is invalid: use 1..${registry_limits.name_chars_max} of A-Z a-z 0-9 _ . - (not starting with . or -)`,
  );
}

export function checkAddress(field: string, address: string): void {
  const match = address.length <= registry_limits.address_chars_max ? address_pattern.exec(address) : null;
  const port = match === null ? 0 : Number(match[2]);
  if (port >= 1 && port <= 65_535) return;
  throw new MqError('BAD_REQUEST', `${field} ${JSON.stringify(address.slice(0, 60))} is not host:port with a port 1..65535; register the address clients dial`);
}

/**
 * The HA address only slaves dial. A broker without an HA listener registers it empty, or
 * with port 0 (the unbound `--ha-port 0`): both mean "none", and the nameserver then tells
 * slaves no master HA address.
 */
export function checkHaAddress(address: string): void {
  if (hasHaAddress(address)) checkAddress('haAddress', address);
  else if (address.length > registry_limits.address_chars_max) throw new MqError('BAD_REQUEST', `haAddress has ${address.length} characters, more than ${registry_limits.address_chars_max}`);
}

export function hasHaAddress(address: string): boolean {
  return address !== '' && !/:0$/.test(address);
}

export function checkTopicName(topic: string): void {
  const invalid = checkName('topic', topic);
  if (invalid !== undefined) throw new MqError('BAD_REQUEST', invalid.message);
}

export function checkTopicConfigs(topics: readonly TopicConfig[]): void {
  if (topics.length > registry_limits.topics_per_registration_max) {
    throw new MqError('BAD_REQUEST', `a registration lists ${topics.length} topics, more than ${registry_limits.topics_per_registration_max}; spread topics over more broker groups`);
  }
  const seen = new Set<string>();
  for (const config of topics) {
    checkTopicName(config.topic);
    if (seen.has(config.topic)) throw new MqError('BAD_REQUEST', `topic '${config.topic}' is listed twice in one registration; send each topic once`);
    seen.add(config.topic);
    for (const [field, queues] of [['readQueues', config.readQueues], ['writeQueues', config.writeQueues]] as const) {
      if (!Number.isInteger(queues) || queues < 0 || queues > registry_limits.queues_per_topic_max) {
        throw new MqError('BAD_REQUEST', `topic '${config.topic}': ${field} ${queues} is not in 0..${registry_limits.queues_per_topic_max}`);
      }
    }
    if (!Number.isInteger(config.perm) || config.perm < 0 || config.perm > perm_bits_max) {
      throw new MqError('BAD_REQUEST', `topic '${config.topic}': perm ${config.perm} is not a set of perm_read | perm_write | perm_inherit (0..${perm_bits_max})`);
    }
  }
}
