/**
 * Two Syncthing instances on loopback sharing one folder, for the side-by-side bench: each gets
 * its own home (certificate from `syncthing generate`), a config.xml written here (fixed API
 * key, GUI on a free 127.0.0.1 port, listening on 127.0.0.1 only, no global or local discovery,
 * no relays, no NAT, no usage reporting, no upgrades), the folder with the filesystem watcher
 * on at its smallest delay (1 s), and the other instance's address set to a fault proxy in
 * front of it, so every byte between them is counted. Needs the Debian package:
 * `apt-get install syncthing` (1.19). Only the children's own PIDs are ever signalled.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { freePort } from './free-port';

const run = promisify(execFile);

export interface SyncthingNode {
  home: string;
  folder: string;
  deviceId: string;
  guiPort: number;
  listenPort: number;
  apiKey: string;
  process?: ChildProcess;
}

export interface SyncthingPair {
  a: SyncthingNode;
  b: SyncthingNode;
  /** Proxies in front of a and b: their byte counts are the traffic between the two. */
  proxies: FaultProxy[];
  /** Bytes both ways through both proxies. */
  bytes(): number;
  /** Resolves when both see each other connected and the folder idle on both. */
  ready(timeoutMs?: number): Promise<void>;
  /** GET /rest/<path> on one node. */
  rest(node: SyncthingNode, path: string): Promise<unknown>;
  close(): Promise<void>;
}

async function generate(home: string): Promise<string> {
  const { stdout, stderr } = await run('syncthing', ['generate', `--home=${home}`, '--no-default-folder']);
  const id = /Device ID: ([A-Z0-9-]+)/.exec(stdout + stderr)?.[1];
  if (!id) throw new Error(`syncthing generate printed no device id: ${stdout}${stderr}`);
  return id;
}

function configXml(self: SyncthingNode, peer: SyncthingNode, peerAddress: string): string {
  const device = (node: SyncthingNode, address: string): string => `
    <device id="${node.deviceId}" name="${node === self ? 'self' : 'peer'}" compression="always" introducer="false">
        <address>${address}</address>
        <autoAcceptFolders>false</autoAcceptFolders>
    </device>`;
  return `<configuration version="36">
    <folder id="tasks" label="tasks" path="${self.folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="${self.deviceId}"></device>
        <device id="${peer.deviceId}"></device>
        <minDiskFree unit="%">0</minDiskFree>
        <versioning></versioning>
        <copiers>0</copiers>
        <pullerMaxPendingKiB>0</pullerMaxPendingKiB>
        <hashers>0</hashers>
        <order>random</order>
        <ignoreDelete>false</ignoreDelete>
        <markerName>.stfolder</markerName>
    </folder>${device(self, 'dynamic')}${device(peer, peerAddress)}
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:${self.guiPort}</address>
        <apikey>${self.apiKey}</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:${self.listenPort}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <startBrowser>false</startBrowser>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <reconnectionIntervalS>1</reconnectionIntervalS>
        <announceLANAddresses>false</announceLANAddresses>
        <setLowPriority>false</setLowPriority>
    </options>
</configuration>
`;
}

/** Starts two instances sharing `folderA` and `folderB` (created). */
export async function startSyncthingPair(root: string, folderA: string, folderB: string): Promise<SyncthingPair> {
  const nodes: SyncthingNode[] = [];
  for (const [name, folder] of [['a', folderA], ['b', folderB]] as const) {
    const home = join(root, `syncthing-${name}`);
    await mkdir(folder, { recursive: true });
    nodes.push({ home, folder, deviceId: await generate(home), guiPort: await freePort(), listenPort: await freePort(), apiKey: `roo-sync-bench-key-${name}` });
  }
  const [a, b] = nodes as [SyncthingNode, SyncthingNode];
  const toA = await startFaultProxy([{ host: '127.0.0.1', port: a.listenPort }]);
  const toB = await startFaultProxy([{ host: '127.0.0.1', port: b.listenPort }]);
  await writeFile(join(a.home, 'config.xml'), configXml(a, b, `tcp://127.0.0.1:${toB.port}`));
  await writeFile(join(b.home, 'config.xml'), configXml(b, a, `tcp://127.0.0.1:${toA.port}`));
  for (const node of nodes) {
    node.process = spawn('syncthing', ['serve', `--home=${node.home}`, '--no-browser', '--no-restart', '--no-upgrade', `--gui-address=127.0.0.1:${node.guiPort}`], {
      env: { ...process.env, STNODEFAULTFOLDER: '1', STNOUPGRADE: '1', STGUIAPIKEY: node.apiKey },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
  }
  const rest = async (node: SyncthingNode, path: string): Promise<unknown> => {
    const res = await fetch(`http://127.0.0.1:${node.guiPort}/rest/${path}`, { headers: { 'X-API-Key': node.apiKey } });
    if (!res.ok) throw new Error(`syncthing ${path}: ${res.status}`);
    return res.json();
  };
  return {
    a,
    b,
    proxies: [toA, toB],
    bytes: () => toA.bytes.up + toA.bytes.down + toB.bytes.up + toB.bytes.down,
    rest,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = await (async () => {
          for (const [self, peer] of [[a, b], [b, a]] as const) {
            const connections = (await rest(self, 'system/connections')) as { connections: Record<string, { connected: boolean }> };
            if (!connections.connections[peer.deviceId]?.connected) return false;
            const status = (await rest(self, 'db/status?folder=tasks')) as { state: string };
            if (status.state !== 'idle') return false;
          }
          return true;
        })().catch(() => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error('the two Syncthing instances did not connect');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      for (const node of nodes) {
        const child = node.process;
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
      }
      await toA.close();
      await toB.close();
    },
  };
}
