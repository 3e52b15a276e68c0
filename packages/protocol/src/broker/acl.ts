import { isValidId, TOPIC_ROOT } from '../topics.ts';

/**
 * Who may publish or subscribe where: the single table both brokers enforce.
 * The embedded broker evaluates it directly; the mosquitto config generator
 * renders it as `pattern`/`topic` lines. A device only ever touches its own
 * subtree (`%u` = the CN of its certificate), plus read access to the
 * fan-out chunk streams that every device of a wave shares. The update
 * server's account is separate and may use the whole tree.
 */
export interface AclRule {
  access: 'read' | 'write';
  /** Topic filter relative to TOPIC_ROOT; `%u` is the device's username. */
  pattern: string;
}

export const DEVICE_ACL: readonly AclRule[] = [
  { access: 'write', pattern: 'devices/%u/hello' },
  { access: 'write', pattern: 'devices/%u/online' },
  { access: 'write', pattern: 'devices/%u/status' },
  { access: 'write', pattern: 'devices/%u/chunks/req' },
  { access: 'read', pattern: 'devices/%u/cmd' },
  { access: 'read', pattern: 'devices/%u/chunks/data' },
  { access: 'read', pattern: 'images/+/chunks' },
];

/** Everything under the root, for the server's account. */
export const SERVER_FILTER = `${TOPIC_ROOT}/#`;

function levels(s: string): string[] {
  return s.split('/');
}

// `topic` must be matched by `filter` (MQTT wildcard rules). For subscriptions
// `topic` is itself a filter; a wildcard in it only matches the same wildcard,
// so `#` or `devices/+/cmd` never fit a device's concrete patterns.
function matches(filter: string, topic: string): boolean {
  const f = levels(filter);
  const t = levels(topic);
  for (let i = 0; i < f.length; i++) {
    const fl = f[i]!;
    if (fl === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    const tl = t[i]!;
    if (fl === '+') {
      if (tl === '#') return false;
      continue;
    }
    if (fl !== tl) return false;
  }
  return f.length === t.length;
}

/**
 * Whether `username` may publish (`write`) to `topic` or subscribe (`read`)
 * to `filter`. Usernames that are not valid topic ids get nothing, so a `+`
 * or `#` smuggled into an identity cannot widen a `%u` pattern; `$share/...`
 * and `$SYS/...` never match a device rule.
 */
export function aclAllows(
  username: string,
  access: 'read' | 'write',
  topicOrFilter: string,
  options: { serverUsername: string },
): boolean {
  if (username === options.serverUsername) return matches(SERVER_FILTER, topicOrFilter) || isServerShare(topicOrFilter);
  if (!isValidId(username)) return false;
  if (access === 'write' && /[+#]/.test(topicOrFilter)) return false;
  return DEVICE_ACL.some(
    (r) => r.access === access && matches(`${TOPIC_ROOT}/${r.pattern.replace('%u', username)}`, topicOrFilter),
  );
}

// The server may spread device traffic over workers with MQTT 5 shared
// subscriptions; only its account may do so.
function isServerShare(filter: string): boolean {
  const m = /^\$share\/[^/+#]+\/(.+)$/.exec(filter);
  return m !== null && matches(SERVER_FILTER, m[1]!);
}
