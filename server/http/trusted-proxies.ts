/**
 * Which peers may say who the client is (X-Forwarded-For), and the client address that
 * follows. `TRUST_PROXY` is off (the socket's address, always), on (any peer: only when
 * nothing but your proxy can reach the relay), or a list of the proxies' addresses and
 * networks (`172.30.87.10`, `10.0.0.0/8`, `loopback`, `private`). With a list, the header is
 * read only from a peer on it, and from the right: each hop a trusted proxy added is skipped,
 * and the first address not on the list is the client, so whatever a client writes into the
 * header itself is never taken for its address.
 */
import { BlockList, isIP } from 'node:net';

/** RelayConfig's form: false (off), true (any peer), or the trusted addresses and networks as given. */
export type TrustProxySetting = boolean | readonly string[];

/** Names for common sets of addresses. */
const KEYWORDS: Readonly<Record<string, ReadonlyArray<[string, number]>>> = {
  loopback: [['127.0.0.0', 8], ['::1', 128]],
  private: [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['fc00::', 7]],
};

/** Parses one list (comma- or space-separated); the reason of the first bad entry, or the entries. */
export function parseTrustedProxies(text: string): { ok: true; value: string[] } | { ok: false; reason: string } {
  const entries = text.split(/[\s,]+/).filter((entry) => entry.length > 0);
  if (entries.length === 0) return { ok: false, reason: 'must name at least one address' };
  for (const entry of entries) {
    if (!entryRanges(entry)) {
      return { ok: false, reason: `"${entry}" is not an IP address, a CIDR network (10.0.0.0/8), loopback or private` };
    }
  }
  return { ok: true, value: entries };
}

/** Answers "may this peer tell us the client's address?". */
export type ProxyTrust = (address: string) => boolean;

export function proxyTrust(setting: TrustProxySetting): ProxyTrust {
  if (setting === true) return () => true;
  if (setting === false || setting.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of setting) {
    for (const [address, prefix] of entryRanges(entry) ?? []) {
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      list.addSubnet(address, prefix, family);
    }
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then the
 * X-Forwarded-For hops from the right, skipping trusted ones. A malformed hop ends the walk at
 * the last address known good.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: ProxyTrust): string | null {
  let address = peer ? normaliseAddress(peer) : null;
  if (!address || !trusted(address) || forwardedFor === undefined) return address;
  const hops = [forwardedFor].flat().join(',').split(',').map((hop) => hop.trim()).filter((hop) => hop.length > 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]!);
    if (isIP(hop) === 0) return address;
    address = hop;
    if (!trusted(hop)) return hop;
  }
  return address;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) as `10.0.0.1`. */
function normaliseAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function entryRanges(entry: string): ReadonlyArray<[string, number]> | undefined {
  const keyword = KEYWORDS[entry.toLowerCase()];
  if (keyword) return keyword;
  const [address, prefixText, extra] = entry.split('/');
  if (extra !== undefined || !address) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 6 ? 128 : 32;
  if (prefixText === undefined) return [[address, max]];
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return [[address, Number(prefixText)]];
}
