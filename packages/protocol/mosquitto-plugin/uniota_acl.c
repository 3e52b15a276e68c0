/*
 * uniota_acl: the uniota ACL for mosquitto 2.x (plugin interface v5), so that
 * a refused SUBSCRIBE is refused (SUBACK 0x80 / 0x87) instead of granted and
 * filtered, and so that every refusal an attacker causes is logged where an
 * operator and the update server see it.
 *
 * Why a plugin and not `acl_file`: mosquitto's default ACL grants every
 * subscription (security_default.c answers MOSQ_ACL_SUBSCRIBE with success and
 * filters on delivery) and logs denied publishes only at debug level, which
 * mosquitto never publishes on `$SYS/broker/log/...` and nobody runs in
 * production. This plugin logs each denial at WARNING, which the default log
 * types include and `log_dest topic` publishes on `$SYS/broker/log/W`.
 *
 * The rules are NOT written here: they come from the generated config as
 * plugin options (`uniota broker-config`, rendered from
 * packages/protocol/src/broker/acl.ts), so both brokers enforce one table.
 * This file only holds the evaluation, mirroring aclAllows() in acl.ts line
 * for line (test/security/mosquitto-acl-agreement.test.ts checks they agree
 * against a real mosquitto):
 *
 *   plugin_opt_server_username <CN of the update server's certificate>
 *   plugin_opt_acl_<nn> <device|server> <read|write> <filter with %u>
 *
 * Log line of a denial (one line, fixed order, values percent-encoded so a
 * space or newline in a topic cannot forge fields; the topic is last and
 * truncated to TOPIC_LOG_MAX bytes):
 *
 *   uniota-acl denied <publish|subscribe> user=<username> client=<client id> topic=<topic or filter>
 *
 * A flood of denials is bounded here too: at most LOG_PER_SECOND lines per
 * second across the broker, then one `uniota-acl suppressed <n> denials`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_RULES 64
#define MAX_ID_LENGTH 128 /* MAX_ID_LENGTH in packages/protocol/src/topics.ts */
#define TOPIC_LOG_MAX 256
#define LOG_PER_SECOND 100

enum who { WHO_DEVICE, WHO_SERVER };
enum access { ACCESS_READ, ACCESS_WRITE };

struct rule {
	enum who who;
	enum access access;
	char *filter;
};

struct acl {
	mosquitto_plugin_id_t *id;
	char *server_username;
	struct rule rules[MAX_RULES];
	int rule_count;
	/* Flood bound on the log (one broker thread: no locking needed). */
	time_t log_second;
	unsigned int logged_this_second;
	unsigned long suppressed;
};

/* isValidId() in topics.ts: non-empty, bounded, no + # / NUL, no $ prefix. */
static bool valid_id(const char *id)
{
	size_t n;
	if(id == NULL || id[0] == '\0' || id[0] == '$') return false;
	n = strlen(id);
	if(n > MAX_ID_LENGTH) return false;
	return strpbrk(id, "+#/") == NULL;
}

/* Length of the level starting at s (up to '/' or the end). */
static size_t level_len(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash ? (size_t)(slash - s) : strlen(s);
}

/*
 * matches() in acl.ts: `topic` (a topic, or for a subscription itself a
 * filter) is matched by `filter`, level by level. A wildcard in the request
 * only matches the same wildcard written in the rule: `+` in a rule does not
 * match a `#` asked for, so `#` or `devices/+/cmd` never fit a device's
 * concrete rules. (mosquitto_topic_matches_sub() refuses wildcards in its
 * topic argument, so it cannot judge a SUBSCRIBE filter against a rule.) A
 * rule level `%u` is the asking username.
 */
static bool matches(const char *filter, const char *topic, const char *username)
{
	const char *f = filter;
	const char *t = topic;
	for(;;){
		size_t fl = level_len(f);
		size_t tl;
		bool f_last = f[fl] == '\0';
		if(fl == 1 && f[0] == '#') return f_last;
		if(t == NULL) return false;
		tl = level_len(t);
		if(fl == 1 && f[0] == '+'){
			if(tl == 1 && t[0] == '#') return false;
		}else if(fl == 2 && f[0] == '%' && f[1] == 'u'){
			if(strlen(username) != tl || strncmp(username, t, tl) != 0) return false;
		}else if(fl != tl || strncmp(f, t, fl) != 0){
			return false;
		}
		/* Next level of each; t becomes NULL once the topic has no more levels. */
		t = t[tl] == '\0' ? NULL : t + tl + 1;
		if(f_last) return t == NULL;
		f = f + fl + 1;
	}
}

/* `$share/<group>/...`: the group must be one plain level, as mosquitto itself requires. */
static bool bad_share(const char *topic)
{
	const char *group;
	size_t gl;
	if(strncmp(topic, "$share/", 7) != 0) return false;
	group = topic + 7;
	gl = level_len(group);
	if(gl == 0 || group[gl] == '\0') return true;
	for(size_t i = 0; i < gl; i++){
		if(group[i] == '+' || group[i] == '#') return true;
	}
	return false;
}

/* aclAllows() in acl.ts. */
static bool allows(const struct acl *acl, const char *username, enum access access, const char *topic)
{
	enum who who;
	if(username != NULL && strcmp(username, acl->server_username) == 0){
		who = WHO_SERVER;
	}else{
		if(!valid_id(username)) return false;
		who = WHO_DEVICE;
	}
	if(access == ACCESS_WRITE && strpbrk(topic, "+#") != NULL) return false;
	if(bad_share(topic)) return false;
	for(int i = 0; i < acl->rule_count; i++){
		const struct rule *r = &acl->rules[i];
		if(r->who == who && r->access == access && matches(r->filter, topic, username)) return true;
	}
	return false;
}

/* Percent-encodes the bytes that could break the line's fields (space, controls, '%', DEL). */
static void encode(char *out, size_t out_size, const char *in, size_t max_in)
{
	size_t o = 0;
	for(size_t i = 0; in != NULL && in[i] != '\0' && i < max_in; i++){
		unsigned char c = (unsigned char)in[i];
		if(c <= 0x20 || c == '%' || c == 0x7f){
			if(o + 4 > out_size) break;
			snprintf(out + o, 4, "%%%02X", c);
			o += 3;
		}else{
			if(o + 2 > out_size) break;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void log_denial(struct acl *acl, const char *kind, const char *username, const char *client_id, const char *topic)
{
	char user_enc[MAX_ID_LENGTH * 3 + 1];
	char client_enc[MAX_ID_LENGTH * 3 + 1];
	char topic_enc[TOPIC_LOG_MAX * 3 + 1];
	time_t now = time(NULL);

	if(now != acl->log_second){
		if(acl->suppressed > 0){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "uniota-acl suppressed %lu denials", acl->suppressed);
		}
		acl->log_second = now;
		acl->logged_this_second = 0;
		acl->suppressed = 0;
	}
	if(acl->logged_this_second >= LOG_PER_SECOND){
		acl->suppressed++;
		return;
	}
	acl->logged_this_second++;
	encode(user_enc, sizeof(user_enc), username, MAX_ID_LENGTH);
	encode(client_enc, sizeof(client_enc), client_id, MAX_ID_LENGTH);
	encode(topic_enc, sizeof(topic_enc), topic, TOPIC_LOG_MAX);
	mosquitto_log_printf(MOSQ_LOG_WARNING, "uniota-acl denied %s user=%s client=%s topic=%s", kind, user_enc, client_enc, topic_enc);
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct acl *acl = userdata;
	const char *username = mosquitto_client_username(ed->client);
	(void)event;

	switch(ed->access){
		case MOSQ_ACL_SUBSCRIBE:
			if(allows(acl, username, ACCESS_READ, ed->topic)) return MOSQ_ERR_SUCCESS;
			log_denial(acl, "subscribe", username, mosquitto_client_id(ed->client), ed->topic);
			return MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_WRITE:
			if(allows(acl, username, ACCESS_WRITE, ed->topic)) return MOSQ_ERR_SUCCESS;
			log_denial(acl, "publish", username, mosquitto_client_id(ed->client), ed->topic);
			return MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_READ:
			/*
			 * Delivery of a message to a subscription this plugin granted: the
			 * defence in depth of the embedded broker's authorizeForward. Not
			 * logged: no client asked for anything, and logging here could
			 * recurse through the $SYS log topic.
			 */
			return allows(acl, username, ACCESS_READ, ed->topic) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_UNSUBSCRIBE:
			/* Dropping a subscription never gives anything away. */
			return MOSQ_ERR_SUCCESS;
		default:
			return MOSQ_ERR_ACL_DENIED;
	}
}

static void free_acl(struct acl *acl)
{
	if(acl == NULL) return;
	for(int i = 0; i < acl->rule_count; i++) free(acl->rules[i].filter);
	free(acl->server_username);
	free(acl);
}

/* One `acl_<nn>` option: "<device|server> <read|write> <filter>". */
static bool parse_rule(struct rule *r, const char *value)
{
	char who[8], access[8];
	int consumed = 0;
	if(sscanf(value, "%7s %7s %n", who, access, &consumed) != 2 || value[consumed] == '\0') return false;
	if(strcmp(who, "device") == 0) r->who = WHO_DEVICE;
	else if(strcmp(who, "server") == 0) r->who = WHO_SERVER;
	else return false;
	if(strcmp(access, "read") == 0) r->access = ACCESS_READ;
	else if(strcmp(access, "write") == 0) r->access = ACCESS_WRITE;
	else return false;
	if(strchr(value + consumed, ' ') != NULL) return false;
	r->filter = strdup(value + consumed);
	return r->filter != NULL;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	struct acl *acl = calloc(1, sizeof(*acl));
	if(acl == NULL) return MOSQ_ERR_NOMEM;
	acl->id = identifier;
	for(int i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "server_username") == 0){
			free(acl->server_username);
			acl->server_username = strdup(options[i].value);
		}else if(strncmp(options[i].key, "acl_", 4) == 0){
			if(acl->rule_count == MAX_RULES || !parse_rule(&acl->rules[acl->rule_count], options[i].value)){
				mosquitto_log_printf(MOSQ_LOG_ERR, "uniota-acl: bad rule plugin_opt_%s \"%s\"", options[i].key, options[i].value);
				free_acl(acl);
				return MOSQ_ERR_INVAL;
			}
			acl->rule_count++;
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "uniota-acl: unknown option plugin_opt_%s", options[i].key);
			free_acl(acl);
			return MOSQ_ERR_INVAL;
		}
	}
	/* Fail closed: a config without its rules must not start a broker that allows nothing it should, silently. */
	if(acl->server_username == NULL || acl->server_username[0] == '\0' || acl->rule_count == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "uniota-acl: plugin_opt_server_username and at least one plugin_opt_acl_<n> are required");
		free_acl(acl);
		return MOSQ_ERR_INVAL;
	}
	if(mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, acl) != MOSQ_ERR_SUCCESS){
		free_acl(acl);
		return MOSQ_ERR_UNKNOWN;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "uniota-acl: %d rules, server account %s", acl->rule_count, acl->server_username);
	*userdata = acl;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct acl *acl = userdata;
	(void)options;
	(void)option_count;
	if(acl != NULL) mosquitto_callback_unregister(acl->id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	free_acl(acl);
	return MOSQ_ERR_SUCCESS;
}
