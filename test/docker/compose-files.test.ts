import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const COMPOSE_FILES = ['docker/development/docker-compose.yml', 'docker/production/docker-compose.yml'];

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  volumes?: Array<string | { type?: string; source?: string }>;
  env_file?: string | string[];
  ports?: string[];
  healthcheck?: unknown;
  restart?: string;
  networks?: unknown;
}

/** Host paths a service references (bind mounts, build context, Dockerfile, env files). */
function referencedPaths(composeDir: string, service: Service): string[] {
  const paths: string[] = [];
  const hostPath = (p: string) => (p.startsWith('.') || p.startsWith('/') ? resolve(composeDir, p) : null);
  for (const volume of service.volumes ?? []) {
    const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source ?? '';
    // `${VAR:-default}` is chosen by the operator at run time; named volumes have no path.
    if (source.includes('${')) continue;
    const p = hostPath(source);
    if (p) paths.push(p);
  }
  if (service.build) {
    const build = typeof service.build === 'string' ? { context: service.build } : service.build;
    const context = resolve(composeDir, build.context ?? '.');
    paths.push(context, resolve(context, build.dockerfile ?? 'Dockerfile'));
  }
  for (const envFile of [service.env_file ?? []].flat()) paths.push(resolve(composeDir, envFile));
  return paths;
}

for (const file of COMPOSE_FILES) {
  describe(file, () => {
    const composeDir = dirname(join(ROOT, file));
    const doc = parse(readFileSync(join(ROOT, file), 'utf8')) as { services: Record<string, Service>; volumes?: object };

    it('parses and defines services', () => {
      assert.ok(doc.services && Object.keys(doc.services).length >= 3);
    });

    it('references only files and folders that exist', () => {
      const missing = Object.values(doc.services).flatMap((s) => referencedPaths(composeDir, s)).filter((p) => !existsSync(p));
      assert.deepEqual(missing, []);
    });

    it('declares every named volume it mounts', () => {
      const declared = new Set(Object.keys(doc.volumes ?? {}));
      for (const [name, service] of Object.entries(doc.services)) {
        for (const volume of service.volumes ?? []) {
          const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source ?? '';
          if (/^[a-z][\w-]*$/i.test(source)) assert.ok(declared.has(source), `${name} mounts undeclared volume ${source}`);
        }
      }
    });

    it('pins every image to a version', () => {
      for (const [name, service] of Object.entries(doc.services)) {
        if (service.image && !service.build) assert.match(service.image, /:[^:]*\d/, `${name} image ${service.image}`);
      }
    });

    it('gives every service a healthcheck', () => {
      for (const [name, service] of Object.entries(doc.services)) assert.ok(service.healthcheck, `${name} has no healthcheck`);
    });
  });
}

describe('docker/development/docker-compose.yml ports', () => {
  it('publishes every port on 127.0.0.1 only', () => {
    const doc = parse(readFileSync(join(ROOT, COMPOSE_FILES[0]!), 'utf8')) as { services: Record<string, Service> };
    for (const [name, service] of Object.entries(doc.services)) {
      for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port}`);
    }
  });
});

describe('docker/production/docker-compose.yml hardening', () => {
  const text = readFileSync(join(ROOT, COMPOSE_FILES[1]!), 'utf8');
  const doc = parse(text) as { services: Record<string, Service>; networks: Record<string, { internal?: boolean }> };

  it('has no default passwords: every secret is required from the env file', () => {
    for (const secret of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD']) {
      assert.ok(text.includes(`\${${secret}:?`), `${secret} must use \${${secret}:?...}`);
      assert.ok(!new RegExp(`\\$\\{${secret}:-`).test(text), `${secret} has a default`);
    }
  });

  it('restarts every service and keeps all but the proxy on an internal network', () => {
    assert.equal(doc.networks.internal?.internal, true);
    for (const [name, service] of Object.entries(doc.services)) {
      assert.equal(service.restart, 'unless-stopped', `${name} restart policy`);
      if (name !== 'caddy') {
        assert.deepEqual(service.networks, ['internal'], `${name} networks`);
        assert.equal(service.ports, undefined, `${name} publishes ports`);
      }
    }
  });
});

describe('docker/production/docker-compose.yml TRUST_PROXY', () => {
  interface Networked { environment?: Record<string, string>; networks?: Record<string, { ipv4_address?: string } | null> | string[] }
  const doc = parse(readFileSync(join(ROOT, COMPOSE_FILES[1]!), 'utf8')) as {
    services: Record<string, Networked>;
    networks: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } }>;
  };

  it("makes the relay trust Caddy's fixed address on the internal network, and nothing else (regression: every client shared Caddy's address)", () => {
    const trusted = doc.services.relay?.environment?.TRUST_PROXY;
    const caddy = doc.services.caddy?.networks;
    assert.ok(caddy && !Array.isArray(caddy), 'caddy names its networks with settings');
    const address = caddy.internal?.ipv4_address;
    assert.ok(address, 'caddy has a fixed address on the internal network');
    assert.equal(trusted, address, 'TRUST_PROXY is exactly that address (not 1, not a network)');
    const subnet = doc.networks.internal?.ipam?.config?.[0]?.subnet;
    assert.ok(subnet, 'the internal network has a fixed subnet');
    const [base, bits] = subnet.split('/');
    const toInt = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
    const mask = bits === '0' ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
    assert.equal((toInt(address) & mask) >>> 0, (toInt(base!) & mask) >>> 0, `${address} lies in ${subnet}`);
  });
});
