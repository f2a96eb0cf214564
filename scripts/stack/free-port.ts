/**
 * Free TCP ports for the harness and the local stack, never the same one twice.
 *
 * The kernel's "port 0" picks a free port at random; once we close it, the next pick may be the
 * same port, and a Consul agent given one port for two roles fails ("Serf Advertise WAN address …
 * already configured"). Serf also listens on UDP, so a port is picked only when UDP is free too.
 * Every port handed out is remembered:
 * - in this process, for as long as it runs (a Set: no port is ever handed out twice);
 * - across processes of this project on this machine (a test run beside `npm run bench` or the
 *   chaos run), by a reservation file per port in the OS temp dir, created exclusively and holding
 *   the owner's pid; a file whose owner is dead is taken over, and a process removes its own on exit.
 * What no allocator can promise: that an unrelated program does not bind the port between the
 * pick and its consumer's own bind.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../support/process-alive';

/** A TCP port the OS says is free right now (listen on 0, then close). */
function osFreeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether `port` on 127.0.0.1 is free for UDP too (Serf's gossip ports take TCP and UDP). */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** Asks the OS for a port that is free right now for TCP and UDP (a Consul agent uses some ports for both). */
export async function osFreePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await osFreeTcpPort();
    if (await udpFree(port)) return port;
  }
  throw new Error('no port free for both TCP and UDP after 20 picks');
}

/** Where and how ports are picked; tests give their own. */
export interface PortAllocatorOptions {
  pick?: () => Promise<number>;
  /** Folder of cross-process reservations; undefined: in-process only. */
  reservationDir?: string;
  /** Picks tried before giving up. */
  attempts?: number;
  pid?: number;
  isAlive?: (pid: number) => boolean;
}

/** Hands out ports; each at most once per allocator and, with a reservation dir, once among live processes. */
export interface PortAllocator {
  next(): Promise<number>;
  /** Ports this allocator has handed out. */
  readonly handedOut: ReadonlySet<number>;
  /** Removes this process's reservation files (also done on exit for the default allocator). */
  release(): void;
}

/** An allocator over `pick` (default: the OS), remembering what it handed out. */
export function createPortAllocator(o: PortAllocatorOptions = {}): PortAllocator {
  const pick = o.pick ?? osFreePort;
  const attempts = o.attempts ?? 100;
  const pid = o.pid ?? process.pid;
  const alive = o.isAlive ?? processAlive;
  const handedOut = new Set<number>();
  const files: string[] = [];
  let dirReady = o.reservationDir !== undefined;
  if (o.reservationDir) {
    try {
      mkdirSync(o.reservationDir, { recursive: true, mode: 0o700 });
    } catch {
      dirReady = false; // no shared folder: in-process only
    }
  }

  // True when this process now holds the port's reservation file.
  const reserve = (port: number): boolean => {
    if (!dirReady || !o.reservationDir) return true;
    const file = join(o.reservationDir, String(port));
    for (let i = 0; i < 2; i++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(pid));
        closeSync(fd);
        files.push(file);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true; // unusable folder: in-process only
        let owner = NaN;
        try {
          owner = Number(readFileSync(file, 'utf8'));
        } catch {
          // vanished meanwhile: try again
        }
        if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
        try {
          unlinkSync(file); // its owner is dead: take it over
        } catch {
          // another process took it over first; the exclusive create decides
        }
      }
    }
    return false;
  };

  return {
    handedOut,
    async next() {
      for (let i = 0; i < attempts; i++) {
        const port = await pick();
        // Checked and recorded with no await in between, so concurrent calls never share a port.
        if (handedOut.has(port) || !reserve(port)) continue;
        handedOut.add(port);
        return port;
      }
      throw new Error(`no free port after ${attempts} picks`);
    },
    release() {
      for (const f of files.splice(0)) {
        try {
          unlinkSync(f);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** The reservation folder shared by this project's processes on this machine. */
export const PORT_RESERVATION_DIR = join(tmpdir(), 'consul-grpc-lambda-ports');

let shared: PortAllocator | undefined;

/** A free TCP port on 127.0.0.1, never one this process or another live process of ours already got. */
export function freePort(): Promise<number> {
  if (!shared) {
    const allocator = createPortAllocator({ reservationDir: PORT_RESERVATION_DIR });
    process.once('exit', () => allocator.release());
    shared = allocator;
  }
  return shared.next();
}
