import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { net_fault_limits } from '../runtime/net_fault.js';

/**
 * Where a chaos run's nodes live on the network, and how one is cut off from the others.
 *
 * - `loopback`: every node on 127.0.0.1; nothing can be cut (no partition fault).
 * - `netns`: every node in a network namespace of its own, created by the run (`ip netns`),
 *   joined to one bridge in this namespace by a veth pair, with an address of its own in a
 *   private /24 (10.x.y.0, x and y from this process's pid, so two runs rarely meet). The
 *   run's clients stay here and reach the nodes through the bridge (a /24 in use already is
 *   refused rather than shared). Cutting a node takes its
 *   veth link down: its packets are dropped both ways and its TCP connections stall until
 *   they time out, as in a real partition (nothing is reset). Needs root (CAP_NET_ADMIN) and
 *   iproute2.
 * - `hook`: where namespaces cannot be made, every node on 127.0.0.1, started with a fault
 *   file of its own (MQ_NET_FAULT_FILE, runtime/net_fault.ts); cutting a node creates the
 *   file, and the node's network layer stops every byte of its connections both ways until
 *   it goes. The clients' side of those connections sees the same silence.
 */
export interface ChaosNetwork {
  readonly kind: 'loopback' | 'netns' | 'hook';
  /** What a cut does, in the run's fault table. */
  readonly cut_description: string;
  /** The address node `index` binds and advertises. */
  hostOf(index: number): string;
  /** The program, arguments and environment that run `argv` (node and its arguments) as node `index`. */
  commandOf(index: number, argv: readonly string[]): { file: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** Cuts node `index` off from every other node and from the clients; resolves once the cut is in effect. */
  cut(index: number): void | Promise<void>;
  heal(index: number): void;
  /** Removes what the network created (synchronous: it also runs on the way out). */
  destroy(): void;
}

export const loopback_network: ChaosNetwork = {
  kind: 'loopback',
  cut_description: 'none (a loopback network cannot be partitioned)',
  hostOf: () => '127.0.0.1',
  commandOf: (_, argv) => ({ file: argv[0] as string, args: argv.slice(1) }),
  cut: () => {
    throw new Error('a loopback network cannot be partitioned');
  },
  heal: () => undefined,
  destroy: () => undefined,
};

/** Nodes on 127.0.0.1, each cut by its own fault file (the `hook` kind above). */
export class FaultHookNetwork implements ChaosNetwork {
  readonly kind = 'hook';
  readonly cut_description = "the node's network fault hook holds every byte of its connections both ways (nothing reset); released when healed";

  /** `dir`: where the nodes' fault files are made (created now). */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  hostOf(): string {
    return '127.0.0.1';
  }

  commandOf(index: number, argv: readonly string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    return { file: argv[0] as string, args: argv.slice(1), env: { ...process.env, MQ_NET_FAULT_FILE: this.faultFileOf(index) } };
  }

  /** Resolves two of the hook's poll intervals later: by then every thread of the node has
   *  looked for the file (a thread busy past that may see it later still). */
  async cut(index: number): Promise<void> {
    writeFileSync(this.faultFileOf(index), '');
    await new Promise((resolve) => setTimeout(resolve, 2 * net_fault_limits.poll_interval_ms));
  }

  heal(index: number): void {
    rmSync(this.faultFileOf(index), { force: true });
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private faultFileOf(index: number): string {
    return path.join(this.dir, `node-${index}`);
  }
}

export class NamespaceNetwork implements ChaosNetwork {
  readonly kind = 'netns';
  readonly cut_description = "its network namespace's link down (packets dropped both ways); up when healed";
  private readonly tag: string;
  private readonly subnet: string;
  private readonly bridge: string;
  private created_nodes = 0;
  private bridge_created = false;

  /** Creates the bridge and one namespace per node; throws (having removed what it made) when it cannot. */
  static create(nodes: number, pid: number = process.pid): NamespaceNetwork {
    const network = new NamespaceNetwork(pid);
    try {
      network.build(nodes);
    } catch (error) {
      network.destroy();
      throw new Error(`network namespaces are not available here (${firstLine(error)}); partition needs root and iproute2 (ip netns)`);
    }
    return network;
  }

  private constructor(pid: number) {
    // Interface names have at most 15 characters: "mqc" + tag (5 for pids below 2^25) + "v" + index (2) fits.
    this.tag = pid.toString(36);
    this.bridge = `mqc${this.tag}br`;
    // Distinct for pids below 38,400 (150 × 256); build() refuses a /24 already in use.
    this.subnet = `10.${100 + (Math.floor(pid / 256) % 150)}.${pid % 256}`;
  }

  hostOf(index: number): string {
    return `${this.subnet}.${10 + index}`;
  }

  commandOf(index: number, argv: readonly string[]): { file: string; args: string[] } {
    return { file: 'ip', args: ['netns', 'exec', this.namespaceOf(index), ...argv] };
  }

  cut(index: number): void {
    ip('link', 'set', this.rootLinkOf(index), 'down');
  }

  heal(index: number): void {
    ip('link', 'set', this.rootLinkOf(index), 'up');
  }

  destroy(): void {
    for (let index = 0; index < this.created_nodes; index++) {
      quietly(() => ip('netns', 'del', this.namespaceOf(index)));
      // Gone with the namespace once its peer moved there; left behind by a build that failed before.
      quietly(() => ip('link', 'del', this.rootLinkOf(index)));
    }
    this.created_nodes = 0;
    if (this.bridge_created) quietly(() => ip('link', 'del', this.bridge));
    this.bridge_created = false;
  }

  private build(nodes: number): void {
    // Left over by an earlier run that had this pid and was killed before it cleaned up.
    quietly(() => ip('link', 'del', this.bridge));
    const addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8', timeout: 10_000 });
    if (addresses.includes(` ${this.subnet}.`)) throw new Error(`${this.subnet}.0/24 is in use on this machine already`);
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridge_created = true;
    ip('addr', 'add', `${this.subnet}.1/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let index = 0; index < nodes; index++) {
      const namespace = this.namespaceOf(index);
      quietly(() => ip('netns', 'del', namespace));
      ip('netns', 'add', namespace);
      this.created_nodes = index + 1;
      const root_link = this.rootLinkOf(index);
      const node_link = `mqc${this.tag}p${index}`;
      ip('link', 'add', root_link, 'type', 'veth', 'peer', 'name', node_link);
      ip('link', 'set', node_link, 'netns', namespace);
      ip('link', 'set', root_link, 'master', this.bridge);
      ip('link', 'set', root_link, 'up');
      ip('-n', namespace, 'addr', 'add', `${this.hostOf(index)}/24`, 'dev', node_link);
      ip('-n', namespace, 'link', 'set', node_link, 'up');
      ip('-n', namespace, 'link', 'set', 'lo', 'up');
    }
  }

  private namespaceOf(index: number): string {
    return `mqc-${this.tag}-${index}`;
  }

  private rootLinkOf(index: number): string {
    return `mqc${this.tag}v${index}`;
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // Not there (nothing to remove).
  }
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return (stderr !== undefined && stderr !== '' ? stderr : String((error as Error).message)).split('\n')[0] as string;
}
