/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where the journal reader's position survives a restart. An interface, so
 * that the SQLite store can hold the cursor next to everything else; the
 * file store here writes it atomically (temporary file, then rename).
 */

typedef struct CursorStore CursorStore;

struct CursorStore {
	/* 0 and a new string in *ret, or 0 and NULL when nothing is stored yet. */
	int (*load)(CursorStore *s, char **ret);
	/* Stores cursor; "durable" also fsyncs (at shutdown), else rename only. */
	int (*save)(CursorStore *s, const char *cursor, int durable);
	void (*free)(CursorStore *s);
};

#define CUR_MAX_BYTES 1024

/* A store in one file; returns NULL on OOM. */
CursorStore *cur_file_new(const char *path);

static inline CursorStore *cur_free(CursorStore *s)
{
	if (s)
		s->free(s);
	return NULL;
}
