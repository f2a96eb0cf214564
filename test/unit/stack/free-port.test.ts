// The harness's freePort: it once handed the same port twice, and Consul failed with
// "Serf Advertise WAN address … already configured". The OS is free to repeat a port once it is
// closed; these tests make it repeat on purpose.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPortAllocator, freePort, osFreePort, PORT_RESERVATION_DIR } from '../../../scripts/stack/free-port';
import { freePort as harnessFreePort } from '../../../scripts/stack/processes';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'free-port-test-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A pick that returns `ports` in turn, as an OS that keeps handing back the port just closed. */
const scripted = (ports: number[]) => {
  let i = 0;
  return async () => ports[Math.min(i++, ports.length - 1)]!;
};

describe('createPortAllocator', () => {
  it('never hands out a port twice, even when the OS repeats it', async () => {
    const a = createPortAllocator({ pick: scripted([5000, 5000, 5000, 5001, 5000, 5002]) });
    assert.deepEqual([await a.next(), await a.next(), await a.next()], [5000, 5001, 5002]);
  });

  it('gives concurrent callers distinct ports', async () => {
    const a = createPortAllocator({ pick: scripted([7000, 7000, 7000, 7001, 7001, 7002, 7003]) });
    const ports = await Promise.all([a.next(), a.next(), a.next(), a.next()]);
    assert.equal(new Set(ports).size, 4, String(ports));
  });

  it('gives up after a bounded number of picks', async () => {
    const a = createPortAllocator({ pick: scripted([6000]), attempts: 5 });
    await a.next();
    await assert.rejects(a.next(), /no free port after 5 picks/);
  });

  it('skips a port another live process reserved, takes over one whose owner is dead, and releases its own', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '8000'), '4242'); // live neighbour
    writeFileSync(join(dir, '8001'), '4343'); // dead neighbour
    const a = createPortAllocator({ pick: scripted([8000, 8001, 8002]), reservationDir: dir, pid: 99, isAlive: (pid) => pid === 4242 });
    assert.equal(await a.next(), 8001);
    assert.equal(readFileSync(join(dir, '8001'), 'utf8'), '99');
    assert.equal(await a.next(), 8002);
    a.release();
    assert.equal(existsSync(join(dir, '8001')), false);
    assert.equal(existsSync(join(dir, '8000')), true, "a neighbour's reservation is left alone");
  });

  it('keeps two allocators sharing a folder (two processes) apart', async () => {
    const dir = tempDir();
    const alive = () => true;
    const a = createPortAllocator({ pick: scripted([9000, 9001, 9002]), reservationDir: dir, pid: 1, isAlive: alive });
    const b = createPortAllocator({ pick: scripted([9000, 9001, 9002, 9003]), reservationDir: dir, pid: 2, isAlive: alive });
    const fromA = [await a.next(), await a.next()];
    const fromB = [await b.next(), await b.next()];
    assert.deepEqual(fromA, [9000, 9001]);
    assert.deepEqual(fromB, [9002, 9003]);
  });
});

describe('freePort (the OS, the shared reservation folder)', () => {
  it('is the harness freePort, and 200 concurrent calls get 200 distinct ports that are reserved for this process', async () => {
    assert.equal(harnessFreePort, freePort);
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    assert.equal(new Set(ports).size, 200);
    for (const p of ports.slice(0, 5)) assert.equal(readFileSync(join(PORT_RESERVATION_DIR, String(p)), 'utf8'), String(process.pid));
  });

  it('another process never gets a port this one holds, and its reservations go when it exits', async () => {
    const mine = new Set(await Promise.all(Array.from({ length: 50 }, () => freePort())));
    const script = `import('${join(__dirname, '../../../scripts/stack/free-port.ts').replace(/\\/g, '/')}').then(async (m) => { const f = m.freePort ?? m.default.freePort; const ps = []; for (let i = 0; i < 100; i++) ps.push(await f()); console.log(JSON.stringify(ps)); })`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    const theirs = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '[]') as number[];
    assert.equal(theirs.length, 100);
    assert.deepEqual(
      theirs.filter((p) => mine.has(p)),
      [],
    );
    assert.deepEqual(
      theirs.filter(
        (p) =>
          existsSync(join(PORT_RESERVATION_DIR, String(p))) &&
          readFileSync(join(PORT_RESERVATION_DIR, String(p)), 'utf8') !== String(process.pid),
      ),
      [],
      'the child released its reservations on exit',
    );
  });
});

describe('osFreePort', () => {
  it('skips a port whose UDP side is taken (Serf gossips over TCP and UDP on one port)', async () => {
    // Hold UDP on many ports; none of them may come back while held.
    const held = await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<{ port: number; close: () => void }>((resolve) => {
            const s = createSocket('udp4');
            s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => s.close() }));
          }),
      ),
    );
    try {
      const taken = new Set(held.map((h) => h.port));
      const picks = await Promise.all(Array.from({ length: 50 }, () => osFreePort()));
      assert.deepEqual(
        picks.filter((p) => taken.has(p)),
        [],
      );
    } finally {
      for (const h of held) h.close();
    }
  });
});
