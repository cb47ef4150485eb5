/* SPDX-License-Identifier: MIT */
/*
 * The prefilter's index: every distinct word of the table, all found by one
 * scan of the lower-cased text. A memmem per word cost more than the
 * patterns it spared (150 words over each line); here each position of the
 * text looks up the words that start with its two bytes.
 */
#include <string.h>

#include "common/util.h"
#include "llm/redact-internal.h"

static unsigned bucket(const char *w)
{
	return ((unsigned char)w[0] * 31u + (unsigned char)w[1]) & (REDACT_KW_BUCKETS - 1);
}

int redact_kw_add(RedactKeywords *k, const char *w, size_t n, unsigned *ret)
{
	char **words;

	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->words[i]) == n && memcmp(k->words[i], w, n) == 0) {
			*ret = (unsigned)i;
			return 0;
		}
	if (k->n == REDACT_KW_MAX)
		return -E2BIG;
	words = realloc(k->words, (k->n + 1) * sizeof *words);
	if (!words)
		return -ENOMEM;
	k->words = words;
	k->words[k->n] = util_strndup(w, n);
	if (!k->words[k->n])
		return -ENOMEM;
	*ret = (unsigned)k->n++;
	return 0;
}

int redact_kw_build(RedactKeywords *k)
{
	unsigned fill[REDACT_KW_BUCKETS] = {0};

	memset(k->single, 0xff, sizeof k->single);
	memset(k->start, 0, sizeof k->start);
	free(k->order);
	free(k->lens);
	k->order = calloc(k->n ? k->n : 1, sizeof *k->order);
	k->lens = calloc(k->n ? k->n : 1, sizeof *k->lens);
	if (!k->order || !k->lens)
		return -ENOMEM;
	for (size_t i = 0; i < k->n; i++)
		k->lens[i] = strlen(k->words[i]);
	for (size_t i = 0; i < k->n; i++)
		if (k->words[i][1] == '\0')
			k->single[(unsigned char)k->words[i][0]] = (short)i;
		else
			k->start[bucket(k->words[i]) + 1]++;
	for (size_t b = 0; b < REDACT_KW_BUCKETS; b++)
		k->start[b + 1] += k->start[b];
	for (size_t i = 0; i < k->n; i++)
		if (k->words[i][1] != '\0') {
			unsigned b = bucket(k->words[i]);

			k->order[k->start[b] + fill[b]++] = (unsigned short)i;
		}
	return 0;
}

void redact_kw_scan(const RedactKeywords *k, const char *lower, size_t len, unsigned char *found)
{
	memset(found, 0, k->n);
	for (size_t i = 0; i < len; i++) {
		unsigned b;

		if (k->single[(unsigned char)lower[i]] >= 0)
			found[k->single[(unsigned char)lower[i]]] = 1;
		if (i + 1 == len)
			break;
		b = bucket(lower + i);
		for (unsigned j = k->start[b]; j < k->start[b + 1]; j++) {
			unsigned w = k->order[j];

			if (k->lens[w] <= len - i &&
			    memcmp(lower + i, k->words[w], k->lens[w]) == 0)
				found[w] = 1;
		}
	}
}

void redact_kw_free(RedactKeywords *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->words[i]);
	free(k->words);
	free(k->order);
	free(k->lens);
	*k = (RedactKeywords){0};
}
