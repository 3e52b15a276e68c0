/**
 * Follows MQTT packet boundaries in a byte stream and reports the first
 * packet whose declared size is over the limit, from its fixed header alone,
 * so a client announcing a 256 MiB PUBLISH is cut off before the broker
 * buffers any of it (aedes has no packet size limit of its own).
 */
export class PacketSizeGuard {
  // Bytes still to skip of the current packet's body, or -1 while reading a header.
  #remaining = -1;
  #headerBytes: number[] = [];

  constructor(private readonly maxPacketSize: number) {}

  /** Feeds received bytes; false once a packet over the limit (or a malformed length) is seen. */
  feed(buf: Uint8Array): boolean {
    let i = 0;
    while (i < buf.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, buf.length - i);
        this.#remaining -= take;
        i += take;
        continue;
      }
      this.#headerBytes.push(buf[i]!);
      i++;
      const h = this.#headerBytes;
      if (h.length < 2) continue;
      const last = h[h.length - 1]!;
      // Remaining length: 1..4 bytes of 7 bits, continuation bit 0x80.
      if ((last & 0x80) !== 0) {
        if (h.length === 5) return false; // a fifth length byte is malformed
        continue;
      }
      let len = 0;
      for (let k = h.length - 1; k >= 1; k--) len = len * 128 + (h[k]! & 0x7f);
      if (len + h.length > this.maxPacketSize) return false;
      this.#remaining = len;
      this.#headerBytes = [];
    }
    return true;
  }
}
