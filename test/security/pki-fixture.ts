import {
  buildCrl,
  createCa,
  createCsr,
  generateKeyPair,
  issueCertificate,
  SERVER_IDENTITY,
  signCsr,
  systemPkiContext,
  type CaMaterial,
} from '@uniota/pki';

/** A client identity: what a device or the server keeps on its own disk. */
export interface Identity {
  name: string;
  certPem: string;
  keyPem: string;
  serial: string;
}

/** Every certificate the security suite needs, made once per suite by the real @uniota/pki code. */
export interface SecurityPki {
  deviceCa: CaMaterial;
  /** Signs only the broker's certificate; devices trust it to find the real broker. */
  brokerCa: CaMaterial;
  broker: { certPem: string; keyPem: string };
  server: Identity;
  devices: Record<'a' | 'b' | 'revoked', Identity>;
  /** A certificate for `dev-a` from a CA the broker does not trust. */
  rogue: Identity;
  /** CRL of the device CA listing `revoked`. */
  crlPem: string;
}

function ca(name: string): CaMaterial {
  const k = generateKeyPair();
  return { certPem: createCa({ commonName: name, keyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem, validDays: 30 }, systemPkiContext), keyPem: k.privateKeyPem };
}

// Devices go through the CSR flow, as in production: the key never leaves.
function device(deviceCa: CaMaterial, name: string): Identity {
  const k = generateKeyPair();
  const issued = signCsr(deviceCa, createCsr({ commonName: name, keyPem: k.privateKeyPem }), { profile: 'device', validDays: 30 }, systemPkiContext);
  return { name, certPem: issued.certPem, keyPem: k.privateKeyPem, serial: issued.serial };
}

/** Builds the suite's PKI (about a second of RSA key generation). */
export function makeSecurityPki(): SecurityPki {
  const deviceCa = ca('uniota test device CA');
  const brokerCa = ca('uniota test broker CA');
  const bk = generateKeyPair();
  const broker = issueCertificate(brokerCa, { profile: 'broker', commonName: 'broker', publicKeyPem: bk.publicKeyPem, validDays: 30 }, systemPkiContext);
  const sk = generateKeyPair();
  const server = issueCertificate(deviceCa, { profile: 'server-client', commonName: SERVER_IDENTITY, publicKeyPem: sk.publicKeyPem, validDays: 30 }, systemPkiContext);
  const devices = { a: device(deviceCa, 'dev-a'), b: device(deviceCa, 'dev-b'), revoked: device(deviceCa, 'dev-revoked') };
  const rogue = device(ca('rogue CA'), 'dev-a');
  const crlPem = buildCrl(deviceCa, [{ serial: devices.revoked.serial, revokedAt: new Date() }], { crlNumber: 1, nextUpdateDays: 7 }, systemPkiContext);
  return {
    deviceCa,
    brokerCa,
    broker: { certPem: broker.certPem, keyPem: bk.privateKeyPem },
    server: { name: SERVER_IDENTITY, certPem: server.certPem, keyPem: sk.privateKeyPem, serial: server.serial },
    devices,
    rogue,
    crlPem,
  };
}
