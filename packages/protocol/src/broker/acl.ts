import { isValidId, TOPIC_ROOT } from '../topics.ts';

/**
 * Who may publish or subscribe where: the single table both brokers enforce.
 * The embedded broker evaluates it directly; the mosquitto config generator
 * hands it to the uniota ACL plugin (mosquitto-plugin/uniota_acl.c) as
 * `plugin_opt_acl_<n>` lines, and the plugin evaluates it the same way. A device only ever touches its own
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

/**
 * Where mosquitto publishes its warning-level log lines when its config has
 * `log_dest topic`; the uniota ACL plugin logs each denial there, and the
 * update server (only its account may read it) records them as events.
 */
export const BROKER_LOG_TOPIC = '$SYS/broker/log/W';

/** One rule of the rendered table: absolute filter, `%u` (as a whole level) = the asking device. */
export interface BrokerAclRule {
  who: 'device' | 'server';
  access: 'read' | 'write';
  filter: string;
}

/**
 * The whole table both brokers enforce: the device rules, and the server's
 * account (the tree, MQTT 5 shared subscriptions of it, which it may use to
 * spread device traffic over workers, and the broker's warning log). The
 * mosquitto plugin gets exactly these rows as `plugin_opt_acl_<n>` lines.
 */
export const BROKER_ACL: readonly BrokerAclRule[] = [
  ...DEVICE_ACL.map((r): BrokerAclRule => ({ who: 'device', access: r.access, filter: `${TOPIC_ROOT}/${r.pattern}` })),
  { who: 'server', access: 'read', filter: SERVER_FILTER },
  { who: 'server', access: 'write', filter: SERVER_FILTER },
  { who: 'server', access: 'read', filter: `$share/+/${SERVER_FILTER}` },
  { who: 'server', access: 'read', filter: BROKER_LOG_TOPIC },
];

function levels(s: string): string[] {
  return s.split('/');
}

// `topic` must be matched by `filter` (MQTT wildcard rules). For subscriptions
// `topic` is itself a filter; a wildcard in it only matches the same wildcard,
// so `#` or `devices/+/cmd` never fit a device's concrete patterns. A `%u`
// level is the asking username. matches() in mosquitto-plugin/uniota_acl.c
// is the same function in C: change both.
function matches(filter: string, topic: string, username: string): boolean {
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
    if (fl === '%u' ? tl !== username : fl !== tl) return false;
  }
  return f.length === t.length;
}

// `$share/<group>/...` with an empty or wildcard group: mosquitto refuses it
// as a filter anyway; here it must not fit the server's `$share/+/` rule either.
function badShare(filter: string): boolean {
  if (!filter.startsWith('$share/')) return false;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  return slash <= 0 || /[+#]/.test(rest.slice(0, slash));
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
  const who = username === options.serverUsername ? 'server' : 'device';
  if (who === 'device' && !isValidId(username)) return false;
  if (access === 'write' && /[+#]/.test(topicOrFilter)) return false;
  if (badShare(topicOrFilter)) return false;
  return BROKER_ACL.some((r) => r.who === who && r.access === access && matches(r.filter, topicOrFilter, username));
}
