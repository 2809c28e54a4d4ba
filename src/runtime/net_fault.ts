import fs from 'node:fs';
import type net from 'node:net';

/**
 * The partition fault of `mq-node chaos` where network namespaces cannot be made: a hook in
 * the node's own network layer. A node started with `MQ_NET_FAULT_FILE` set watches that
 * file (every thread that has connections, each on its own); while it exists, no byte moves
 * on any connection the node dialled or accepted, either way, and new ones stall the same:
 * reads stop (the kernel's buffers fill and the peer's writes wait) and writes are held
 * (corked) in the process. Nothing is reset, so peers see what a partition shows them:
 * silence, and their own timeouts. When the file goes, held writes go out in order and
 * reads go on, as TCP's retransmission would deliver them; a connection some timeout closed
 * meanwhile stays closed.
 *
 * Without the variable (any node not started by a chaos run) nothing is tracked or watched.
 */

export const net_fault_limits = {
  /** How often the file is looked for. */
  poll_interval_ms: 100,
} as const;

interface Tracked {
  /** Whether the node's own code paused its reads (back-pressure): a heal leaves them paused. */
  paused_by_node: boolean;
  pause: () => net.Socket;
  resume: () => net.Socket;
}

class NetFaultHook {
  private readonly sockets = new Map<net.Socket, Tracked>();
  private cut = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly file: string) {}

  get isCut(): boolean {
    return this.cut;
  }

  /** Follows `socket` until it closes; stalls it at once while the node is cut off. */
  track(socket: net.Socket): void {
    const pause = socket.pause.bind(socket);
    const resume = socket.resume.bind(socket);
    const tracked: Tracked = { paused_by_node: socket.isPaused(), pause, resume };
    // The node's own pause and resume (back-pressure) are recorded, and reach the socket
    // only while it is not stalled: a resume must not let bytes through a partition.
    socket.pause = () => {
      tracked.paused_by_node = true;
      return this.cut ? socket : pause();
    };
    socket.resume = () => {
      tracked.paused_by_node = false;
      return this.cut ? socket : resume();
    };
    this.sockets.set(socket, tracked);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.cut) stall(socket, tracked);
    this.timer ??= setInterval(() => this.poll(), net_fault_limits.poll_interval_ms).unref();
  }

  private poll(): void {
    const cut = fs.existsSync(this.file);
    if (cut === this.cut) return;
    this.cut = cut;
    for (const [socket, tracked] of this.sockets) {
      if (cut) stall(socket, tracked);
      else release(socket, tracked);
    }
  }
}

function stall(socket: net.Socket, tracked: Tracked): void {
  tracked.pause();
  socket.cork();
}

function release(socket: net.Socket, tracked: Tracked): void {
  socket.uncork();
  if (!tracked.paused_by_node) tracked.resume();
}

const fault_file = process.env['MQ_NET_FAULT_FILE'];
const hook = fault_file === undefined || fault_file === '' ? undefined : new NetFaultHook(fault_file);

/** Puts a connection the node dialled (tls_dial.ts) or accepted (tls_listener.ts) under the
 *  fault hook, when the node has one. */
export function trackForNetFault(socket: net.Socket): void {
  hook?.track(socket);
}

/** Whether this thread's hook holds its connections now (false without a hook, or before it
 *  has tracked a connection: it watches the file from its first). */
export function netFaultCut(): boolean {
  return hook?.isCut ?? false;
}
