import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { ProtocolError, ProtocolErrorCode } from '../errors.ts';

/** A running embedded broker. */
export interface EmbeddedBroker {
  /** mqtt://host:port to hand to MqttLink. */
  url: string;
  port: number;
  /** MQTT protocol level to connect with (aedes 1.x: 4). */
  protocolVersion: 4;
  /** Stops accepting, disconnects clients, closes the broker. */
  close(): Promise<void>;
}

/**
 * Starts an aedes broker on a TCP port: the default when no broker URL is
 * configured, so a single `uniota server` works out of the box. Port 0 picks
 * a free port. Production fleets use any MQTT 5 broker instead.
 *
 * Note: aedes 1.x speaks MQTT 3.1.1 only; MqttLink falls back to protocol 4
 * for it (nothing in this protocol needs MQTT 5 features).
 */
export async function startEmbeddedBroker(options: { port?: number; host?: string } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker();
  // Tracked so close() can end live connections: net.Server.close() alone
  // waits for every client to leave, which devices never do on their own.
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((r) => aedes.close(() => r()));
    throw new ProtocolError(ProtocolErrorCode.BROKER_START_FAILED, `cannot listen on ${host}:${options.port ?? 0}`, {
      cause: err,
      transient: true,
    });
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    protocolVersion: 4,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
