import type { DeviceGateway } from './campaign/gateway.ts';
import { ServerError, ServerErrorCode } from './errors.ts';

/**
 * The gateway used when no device transport is attached. Every send fails
 * (transiently), so offers stay marked unsent in SQLite and go out once a
 * real transport is attached; nothing is reported as delivered that was not.
 */
export const noTransportGateway: DeviceGateway = {
  async sendOffer(o) {
    throw new ServerError(ServerErrorCode.Gateway, `no device transport attached; offer for ${o.deviceId} kept for later`, { transient: true });
  },
  async sendCancel(c) {
    throw new ServerError(ServerErrorCode.Gateway, `no device transport attached; cancel for ${c.deviceId} kept for later`, { transient: true });
  },
};
