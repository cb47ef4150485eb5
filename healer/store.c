/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "healer/store-private.h"

/*
 * The store's connection, its schema and its transactions. The other
 * store-*.c files hold the rows (store-attempt.c, store-records.c) and the
 * JSON views (store-json.c).
 *
 * Durability: WAL with synchronous=NORMAL loses at most the last commits on
 * a power cut, never consistency; a kill -9 loses nothing committed. The
 * journal cursor is the exception that matters: a batch (the cursor and the
 * incidents its entries produced) commits with synchronous=FULL. SQLite
 * refuses to change the level inside a transaction, so st_batch_begin()
 * raises it before BEGIN and the commit lowers it after COMMIT; the only
 * sync in between is the commit's.
 */

#define APPLICATION_ID	0x484c5231 /* "HLR1": this file is a Healer database */
#define BUSY_TIMEOUT_MS 2000

static const char *const state_names[_AT_STATE_MAX] = {
	[AT_DETECTED] = "detected",
	[AT_ANALYZING] = "analyzing",
	[AT_AWAITING_APPROVAL] = "awaiting_approval",
	[AT_EXECUTING] = "executing",
	[AT_VERIFYING] = "verifying",
	[AT_HEALED] = "healed",
	[AT_FAILED] = "failed",
	[AT_REJECTED] = "rejected",
	[AT_SKIPPED] = "skipped",
	[AT_ESCALATED] = "escalated",
	[AT_INTERRUPTED] = "interrupted",
};

const char *at_state_name(AttemptState s)
{
	return (unsigned)s < _AT_STATE_MAX ? state_names[s] : NULL;
}

int at_state_from_name(const char *name)
{
	for (int i = 0; name && i < _AT_STATE_MAX; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -EINVAL;
}

bool at_state_is_final(AttemptState s)
{
	return s >= AT_HEALED && s < _AT_STATE_MAX;
}

/*
 * Schema migrations: step i takes user_version i to i + 1, in a transaction
 * of its own that also sets the new version. Append; never edit a step a
 * release has shipped. Fingerprints are INTEGER (see st_bind_fp()), times
 * are microseconds since the epoch, states are their names.
 */
static const char *const migrations[] = {
	"PRAGMA application_id = 1212961329;"
	"CREATE TABLE incidents (id INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,"
	" unit TEXT, identifier TEXT, source TEXT NOT NULL, source_class TEXT,"
	" priority INTEGER NOT NULL, message TEXT NOT NULL, first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL, count INTEGER NOT NULL, first_cursor TEXT);"
	"CREATE INDEX incidents_fingerprint ON incidents (fingerprint);"
	"CREATE INDEX incidents_last_seen ON incidents (last_seen);"
	"CREATE TABLE attempts (id INTEGER PRIMARY KEY,"
	" incident_id INTEGER NOT NULL REFERENCES incidents (id), state TEXT NOT NULL,"
	" reason TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL, provider TEXT,"
	" model TEXT, diagnosis TEXT, plan_json TEXT, reply TEXT, dry_run INTEGER NOT NULL);"
	"CREATE INDEX attempts_incident ON attempts (incident_id);"
	"CREATE INDEX attempts_state ON attempts (state, created);"
	"CREATE INDEX attempts_created ON attempts (created);"
	"CREATE TABLE transitions (id INTEGER PRIMARY KEY,"
	" attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,"
	" from_state TEXT, to_state TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL);"
	"CREATE INDEX transitions_attempt ON transitions (attempt_id);"
	"CREATE TABLE commands (id INTEGER PRIMARY KEY,"
	" attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,"
	" idx INTEGER NOT NULL, action TEXT NOT NULL, argv TEXT, accepted INTEGER NOT NULL,"
	" reason TEXT, exit_status INTEGER NOT NULL, term_signal INTEGER NOT NULL,"
	" timed_out INTEGER NOT NULL, duration_usec INTEGER NOT NULL, output TEXT,"
	" dry_run INTEGER NOT NULL, UNIQUE (attempt_id, idx));"
	"CREATE TABLE knowledge (id INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,"
	" plan_json TEXT NOT NULL, successes INTEGER NOT NULL DEFAULT 0,"
	" failures INTEGER NOT NULL DEFAULT 0, last_success INTEGER, last_failure INTEGER,"
	" UNIQUE (fingerprint, plan_json));"
	"CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 1), cursor TEXT NOT NULL);"
	"CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
	" what TEXT NOT NULL, detail TEXT);"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE TABLE escalations (id INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,"
	" unit TEXT, reason TEXT, since INTEGER NOT NULL);"
	"CREATE TABLE decisions (id INTEGER PRIMARY KEY,"
	" attempt_id INTEGER NOT NULL UNIQUE REFERENCES attempts (id) ON DELETE CASCADE,"
	" approve INTEGER NOT NULL, actor TEXT, at INTEGER NOT NULL);"
	"PRAGMA user_version = 1;",
	/* 2: switches an administrator sets through the API (enabled); no decisions table. */
	"CREATE TABLE flags (name TEXT PRIMARY KEY, value INTEGER NOT NULL, at INTEGER NOT NULL);"
	/* Decisions go to the running daemon through its API now, not through the store. */
	"DROP TABLE decisions;"
	"PRAGMA user_version = 2;",
};

#define SCHEMA_VERSION ((int)ELEMENTSOF(migrations))

static int pragma_int(Store *s, const char *sql, int *ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s, sql, &q);

	if (r < 0)
		return r;
	r = st_sql_step(s, q);
	if (r < 0)
		return r;
	*ret = r > 0 ? sqlite3_column_int(q, 0) : 0;
	return 0;
}

/* The schema version, or -EPROTO with why when the file is not ours to read. */
static int schema_version(Store *s, int *ret)
{
	int version, app, tables, r;

	if ((r = pragma_int(s, "PRAGMA user_version", &version)) < 0 ||
	    (r = pragma_int(s, "PRAGMA application_id", &app)) < 0 ||
	    (r = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &tables)) < 0)
		return r;
	if (version > SCHEMA_VERSION) {
		(void)util_snprintf(s->err, sizeof s->err,
				    "schema version %d is newer than this Healer's %d; refusing it",
				    version, SCHEMA_VERSION);
		return -EPROTO;
	}
	if (app != APPLICATION_ID && (app != 0 || version != 0 || tables != 0))
		return st_sql_refuse(s, -EPROTO, "not a Healer database");
	*ret = version;
	return 0;
}

/*
 * One step per transaction, the version read again inside it: another
 * process (the CLI next to the daemon) may have migrated meanwhile.
 */
static int migrate(Store *s)
{
	for (;;) {
		int version, r = st_tx_begin(s);

		if (r < 0)
			return r;
		r = schema_version(s, &version);
		if (r >= 0 && version < SCHEMA_VERSION)
			r = st_sql_exec(s, migrations[version]);
		r = st_tx_end(s, r);
		if (r < 0 || version == SCHEMA_VERSION)
			return r;
	}
}

/*
 * Creates the file 0600 ourselves (SQLite would use 0644 and the umask):
 * it holds command output. O_NOFOLLOW, and a regular file only.
 */
static int precreate(Store *s, const char *path)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;

		return st_sql_refuse(s, r, strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return st_sql_refuse(s, -EINVAL, "not a regular file");
	return 0;
}

static int configure(Store *s)
{
	static const char *const pragmas_rw = "PRAGMA foreign_keys = ON;"
					      "PRAGMA synchronous = NORMAL;";
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r;

	(void)sqlite3_extended_result_codes(s->db, 1);
	(void)sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* The file is data, not code: no triggers or views may call functions on us. */
	(void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (s->readonly)
		return 0;
	r = st_sql_exec(s, pragmas_rw);
	if (r < 0)
		return r;
	r = st_sql_prepare(s, "PRAGMA journal_mode = WAL", &q);
	if (r < 0)
		return r;
	r = st_sql_step(s, q);
	if (r < 0)
		return r;
	if (r == 0 || strcmp((const char *)sqlite3_column_text(q, 0), "wal") != 0)
		return st_sql_refuse(s, -EOPNOTSUPP, "cannot switch the database to WAL mode");
	return 0;
}

/* path as an SQLite URI that opens it immutable: "file:", the path %-escaped, "?immutable=1". */
static char *immutable_uri(const char *path)
{
	static const char tail[] = "?immutable=1";
	/* An absolute path after "file://" (an empty authority): "//x" is no host then. */
	const char *head = path[0] == '/' ? "file://" : "file:";
	size_t n = strlen(path), at = strlen(head);
	char *u = malloc(at + 3 * n + sizeof tail);

	if (!u)
		return NULL;
	memcpy(u, head, at);
	for (const char *c = path; *c; c++) {
		if (strchr("/._-~", *c) || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9'))
			u[at++] = *c;
		else
			at += (size_t)snprintf(u + at, 4, "%%%02X", (unsigned char)*c);
	}
	memcpy(u + at, tail, sizeof tail);
	return u;
}

/*
 * A reader of a WAL database needs the -shm file beside it and makes it
 * when missing: where the reader may not write (a record on read-only
 * media, or in a folder of another user's), the first read fails. When no
 * -wal file with content lies beside it, the file alone holds every commit
 * (its last writer checkpointed), and it may be read as immutable: no lock,
 * no -shm, nothing made. Only for this failure: a file a writer has open
 * has a -wal, and is refused with SQLite's message instead.
 */
static bool may_read_immutable(Store *s, const char *path)
{
	_cleanup_free_ char *wal = NULL, *journal = NULL;
	int code = sqlite3_extended_errcode(s->db), primary = code & 0xff;
	struct stat st;

	/*
	 * Only "cannot make or lock the -shm": a hot rollback journal or a
	 * WAL to recover means the file alone is not the whole record.
	 */
	if (!s->readonly || (primary != SQLITE_READONLY && primary != SQLITE_CANTOPEN) ||
	    code == SQLITE_READONLY_ROLLBACK || code == SQLITE_READONLY_RECOVERY)
		return false;
	if (asprintf(&wal, "%s-wal", path) < 0 || asprintf(&journal, "%s-journal", path) < 0)
		return false;
	if (lstat(journal, &st) == 0 && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
		(void)util_snprintf(s->err, sizeof s->err,
				    "a rollback journal lies beside it: the file may hold half a "
				    "transaction; read it where its folder may be written");
		return false;
	}
	if (lstat(wal, &st) < 0)
		return errno == ENOENT;
	if (S_ISREG(st.st_mode) && st.st_size == 0)
		return true;
	(void)util_snprintf(s->err, sizeof s->err,
			    "%s (no -shm can be made in its folder, and its -wal holds commits "
			    "the file lacks: read it where that folder may be written)",
			    sqlite3_errmsg(s->db));
	return false;
}

/* Drops the connection and its cached statements, to open the file anew. */
static void reset_db(Store *s)
{
	for (size_t i = 0; i < s->n_cache; i++)
		sqlite3_finalize(s->cache[i].q);
	s->n_cache = 0;
	sqlite3_close(s->db);
	s->db = NULL;
	s->err[0] = '\0';
}

/*
 * A reader takes the -wal and -shm beside a file as part of it. In a folder
 * others may write (/tmp), another user could put their own there and so
 * choose what is read: each one present must be a plain file of the
 * database's owner, or of this process's user.
 */
static int sidecars_trusted(Store *s, const char *path)
{
	static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
	struct stat db, st;

	if (stat(path, &db) < 0)
		return 0; /* SQLite says what is wrong with the file itself */
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		_cleanup_free_ char *side = NULL;

		if (asprintf(&side, "%s%s", path, suffixes[i]) < 0)
			return -ENOMEM;
		if (lstat(side, &st) < 0)
			continue;
		if (!S_ISREG(st.st_mode) || (st.st_uid != db.st_uid && st.st_uid != geteuid())) {
			(void)util_snprintf(
				s->err, sizeof s->err,
				"its %s file is not a plain file of the database's owner "
				"(uid %u) or of this user: remove it, or read a copy",
				suffixes[i] + 1, (unsigned)db.st_uid);
			return -EPERM;
		}
	}
	return 0;
}

static int open_common(const char *path, bool readonly, Store **ret, char **ret_error)
{
	int flags = SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX;
	_cleanup_(st_closep) Store *s = NULL;
	int rc, r = -ENOMEM, version = 0;

	if (!ret_error)
		return -EINVAL;
	*ret_error = NULL;
	if (!path || !ret)
		return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->readonly = readonly;
	if (!readonly && (r = precreate(s, path)) < 0)
		goto fail;
	if (readonly && (r = sidecars_trusted(s, path)) < 0)
		goto fail;
	flags |= readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (!s->db)
		goto fail; /* r is -ENOMEM */
	if (rc != SQLITE_OK) {
		r = st_sql_fail(s, rc);
		goto fail;
	}
	r = configure(s);
	if (r >= 0)
		r = readonly ? schema_version(s, &version) : migrate(s);
	if (r < 0 && may_read_immutable(s, path)) {
		_cleanup_free_ char *uri = immutable_uri(path);

		reset_db(s);
		r = -ENOMEM;
		if (!uri)
			goto fail;
		rc = sqlite3_open_v2(uri, &s->db, flags | SQLITE_OPEN_URI, NULL);
		if (!s->db)
			goto fail;
		r = rc != SQLITE_OK ? st_sql_fail(s, rc) : configure(s);
		if (r >= 0)
			r = schema_version(s, &version);
	}
	/* Migration 1 sets the id with the first tables: version 0 is an empty file. */
	if (r >= 0 && readonly && version == 0)
		r = st_sql_refuse(s, -EPROTO, "not a Healer database (it holds no tables)");
	else if (r >= 0 && readonly && version < SCHEMA_VERSION) {
		(void)util_snprintf(s->err, sizeof s->err,
				    "schema version %d is older than this Healer's %d; "
				    "open it read-write once to migrate it",
				    version, SCHEMA_VERSION);
		r = -EPROTO;
	}
	if (r >= 0) {
		*ret = TAKE_PTR(s);
		return 0;
	}
fail:
	if (asprintf(ret_error, "%s: %s", path, s->err[0] ? s->err : strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

int st_open(const char *path, Store **ret, char **ret_error)
{
	return open_common(path, false, ret, ret_error);
}

int st_open_readonly(const char *path, Store **ret, char **ret_error)
{
	return open_common(path, true, ret, ret_error);
}

Store *st_close(Store *s)
{
	if (!s)
		return NULL;
	if (s->batch)
		st_batch_rollback(s);
	for (size_t i = 0; i < s->n_cache; i++)
		sqlite3_finalize(s->cache[i].q);
	/* The last connection checkpoints the WAL and removes it. */
	sqlite3_close(s->db);
	free(s);
	return NULL;
}

const char *st_errmsg(const Store *s)
{
	return s->err[0] ? s->err : "no error";
}

int st_batch_begin(Store *s)
{
	int r;

	if (s->readonly)
		return st_sql_refuse(s, -EROFS, "the store is open read-only");
	if (s->batch)
		return st_sql_refuse(s, -EBUSY, "a batch is already open");
	r = st_sql_exec(s, "PRAGMA synchronous = FULL");
	if (r < 0)
		return r;
	r = st_sql_exec(s, "BEGIN IMMEDIATE");
	if (r < 0) {
		(void)st_sql_exec(s, "PRAGMA synchronous = NORMAL");
		return r;
	}
	s->batch = true;
	return 0;
}

static int cursor_put(Store *s, const char *cursor)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r;

	if (!st_cursor_valid(cursor))
		return st_sql_refuse(s, -EINVAL, "not a journal cursor");
	r = st_sql_prepare(s,
			   "INSERT INTO cursor (id, cursor) VALUES (1, ?1)"
			   " ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor",
			   &q);
	if (r >= 0)
		r = st_bind_text(s, q, 1, cursor, CUR_MAX_BYTES);
	return r < 0 ? r : st_sql_run(s, q);
}

/* Ends the batch whatever happens: committed, or rolled back and the error returned. */
int st_batch_commit(Store *s, const char *cursor)
{
	int r = 0;

	if (!s->batch)
		return st_sql_refuse(s, -EINVAL, "no batch is open");
	if (sqlite3_get_autocommit(s->db))
		r = st_sql_refuse(s, -ECANCELED, "the batch was rolled back by an earlier error");
	if (r >= 0 && cursor)
		r = cursor_put(s, cursor);
	if (r >= 0)
		r = st_sql_exec(s, "COMMIT");
	if (r < 0 && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->batch = false;
	(void)sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	return r;
}

void st_batch_rollback(Store *s)
{
	if (!s->batch)
		return;
	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->batch = false;
	(void)sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
}

int st_cursor_load(Store *s, char **ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	_cleanup_free_ char *c = NULL;
	int r = st_sql_prepare(s, "SELECT cursor FROM cursor WHERE id = 1", &q);

	if (r >= 0)
		r = st_sql_step(s, q);
	if (r > 0)
		r = st_column_strdup(q, 0, &c);
	if (r < 0)
		return r;
	/* Refuse rather than seek somewhere: the follower then starts from its lookback. */
	if (c && !st_cursor_valid(c))
		return st_sql_refuse(s, -EBADMSG, "the stored cursor is not a journal cursor");
	*ret = TAKE_PTR(c);
	return 0;
}

typedef struct CursorView {
	CursorStore base;
	Store *store;
} CursorView;

static int view_load(CursorStore *c, char **ret)
{
	return st_cursor_load(((CursorView *)c)->store, ret);
}

/*
 * Inside a batch the cursor joins it and becomes durable with the batch's
 * commit; alone it is a transaction of its own, synced when durable.
 */
static int view_save(CursorStore *c, const char *cursor, int durable)
{
	Store *s = ((CursorView *)c)->store;
	bool sync = durable && !s->batch && !s->readonly;
	int r;

	if (sync && (r = st_sql_exec(s, "PRAGMA synchronous = FULL")) < 0)
		return r;
	r = st_tx_begin(s);
	if (r >= 0)
		r = st_tx_end(s, cursor_put(s, cursor));
	if (sync)
		(void)sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	return r;
}

static void view_free(CursorStore *c)
{
	free(c);
}

CursorStore *st_cursor_store(Store *s)
{
	CursorView *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->base = (CursorStore){.load = view_load, .save = view_save, .free = view_free};
	v->store = s;
	return &v->base;
}
