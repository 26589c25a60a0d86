import { WsRelayHost } from '../../../core/node/relay/ws-relay-host';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { runProtocolConformance } from '../../conformance/protocol-conformance';

runProtocolConformance('ReferenceRelay over WsRelayHost', async (options) => {
  const relay = new ReferenceRelay({ helloTimeoutMs: options.helloTimeoutMs, isolateMessages: false });
  const host = await WsRelayHost.start({
    relay,
    maxFrameBytes: options.maxFrameBytes,
    maxInflatedBytes: options.maxInflatedBytes,
  });
  return {
    url: host.url,
    createUser: async () => relay.addUser(),
    createDevice: async (userId) => relay.addDevice(userId),
    revokeDevice: async (deviceId) => relay.revokeDevice(deviceId),
    compact: async (userId) => {
      relay.compact(Number.MAX_SAFE_INTEGER, userId);
    },
    close: async () => {
      await host.close();
      relay.close();
    },
  };
});
