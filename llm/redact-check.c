/* SPDX-License-Identifier: MIT */
/*
 * The checks a pattern cannot make: the entropy of a candidate token, what a
 * Basic credential decodes to, and how far a private key block reaches over
 * the lines around its BEGIN or END line. Each sees the whole text and the
 * span its rule matched (see RedactCheck).
 */
#include <string.h>

#include "llm/redact-internal.h"

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_b64(char c)
{
	return is_upper(c) || is_lower(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * log2(x) for x >= 1 without libm (the build links none): the exponent,
 * then ln of the mantissa m in [1, 2) as 2 atanh((m - 1) / (m + 1)), whose
 * series converges fast there (the ratio is at most 1/3).
 */
static double log2_of(double x)
{
	double z, z2, term, sum = 0;
	int e = 0;

	while (x >= 2) {
		x /= 2;
		e++;
	}
	z = (x - 1) / (x + 1);
	z2 = z * z;
	term = z;
	for (int k = 1; k < 24; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return e + 2 * sum / 0.69314718055994530942;
}

double redact_entropy(const char *s, size_t n)
{
	unsigned counts[256] = {0};
	double sum = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		counts[(unsigned char)s[i]]++;
	/* H = log2(n) - (1/n) sum of c log2(c) over the counts c. */
	for (size_t c = 0; c < 256; c++)
		if (counts[c])
			sum += counts[c] * log2_of(counts[c]);
	return log2_of((double)n) - sum / (double)n;
}

/*
 * The least entropy, in bits per character, of a random token of length n.
 * A random base62 token of 32 characters has about 4.56 and less than 4.08
 * once in a thousand; 4.80 at 64 characters. 0.8 of log2(n), capped at 64
 * characters (log2 of the base64 alphabet), keeps that one in a thousand
 * above the line while CamelCase words and paths stay below it.
 */
static double entropy_floor(size_t n)
{
	return 0.8 * log2_of((double)(n < 64 ? n : 64));
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && memcmp(s, p, k) == 0;
}

/* A public SSH key blob: base64 of a length and "ssh-rsa", "ssh-ed25519"... */
static bool ssh_public_blob(const char *s, size_t n)
{
	static const char *const blobs[] = {"AAAAB3NzaC1", "AAAAC3NzaC1", "AAAAE2VjZHNh",
					    "AAAAGnNrLXNzaC1", "AAAAInNrLWVjZHNh"};

	for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++)
		if (has_prefix(s, n, blobs[i]))
			return true;
	return false;
}

/*
 * Whether the token at text[start] follows a digest label: "SHA256:" (an
 * SSH key fingerprint), "sha512-" (subresource integrity), "h1:" (a Go
 * module sum). Digests of public things are what a diagnosis compares.
 */
static bool after_digest_label(const char *text, size_t start, const char *tok, size_t n)
{
	static const char *const labels[] = {"sha1",   "sha224", "sha256", "sha384",
					     "sha512", "md5",	 "h1"};

	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
		size_t k = strlen(labels[i]);

		/*
		 * The label stands alone: "xyzSHA256:" is the tail of a token, and
		 * exempting what follows it would let each pass redact one more
		 * of a chain (the previous token's tail becomes a marker).
		 */
		if (start > k && (text[start - 1] == ':' || text[start - 1] == '=') &&
		    strncasecmp(text + start - 1 - k, labels[i], k) == 0 &&
		    (start == k + 1 || !is_b64(text[start - 2 - k])))
			return true;
		if (n > k + 1 && strncasecmp(tok, labels[i], k) == 0 && tok[k] == '-')
			return true;
	}
	return false;
}

/* "abcdef", "0123": neighbours in the alphabet, a sequence rather than a draw. */
static bool sequence(const char *s, size_t n)
{
	size_t steps = 0;

	for (size_t i = 1; i < n; i++)
		steps += s[i] == s[i - 1] + 1 || s[i] == s[i - 1] - 1;
	return steps * 4 >= n; /* at random, 1 neighbour in 31 */
}

/* Random enough, and not an id, a name of joined words or a public key. */
static bool random_token(const char *s, size_t n)
{
	size_t seps = 0, seg = 0, longest = 0;
	bool upper = false, lower = false, digit = false, hexish = true;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		upper |= is_upper(c);
		lower |= is_lower(c);
		digit |= is_digit(c);
		hexish &= is_hex(c) || c == '-';
		if (c == '-' || c == '_' || c == '/') {
			seps++;
			seg = 0;
		} else if (++seg > longest) {
			longest = seg;
		}
	}
	/* Hex, with or without dashes: commit and container ids, UUIDs, digests. */
	if (hexish || !upper || !lower || !digit)
		return false;
	/* Words joined by - _ /: a pod, container or file name, not a token. */
	if (seps >= 2 && longest < 16)
		return false;
	if (sequence(s, n) || ssh_public_blob(s, n))
		return false;
	return redact_entropy(s, n) >= entropy_floor(n);
}

/* A path component: lower case words, digits, dots and dashes. */
static bool path_word(const char *s, size_t n)
{
	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/*
 * A run with '/' may be a path or URL with a random component in it (a
 * reset link, an upload name): then only the random components go, from
 * the first to the last, and the path around them stays.
 */
static bool random_in_path(const char *text, size_t *start, size_t *end)
{
	size_t first = 0, last = 0, b = *start;
	bool path = false, found = false;

	for (size_t i = *start; i <= *end; i++) {
		if (i < *end && text[i] != '/')
			continue;
		if (path_word(text + b, i - b))
			path = true;
		if (i - b >= 20 && random_token(text + b, i - b)) {
			if (!found)
				first = b;
			last = i;
			found = true;
		}
		b = i + 1;
	}
	if (!path)
		return random_token(text + *start, *end - *start);
	if (found) {
		*start = first;
		*end = last;
	}
	return found;
}

bool redact_check_entropy(RedactMatch *m)
{
	const char *s = m->text + m->start;
	size_t n = m->end - m->start;

	if (after_digest_label(m->text, m->start, s, n))
		return false;
	/* The local part of a Message-ID or an address. */
	if (m->end < m->len && m->text[m->end] == '@')
		return false;
	if (memchr(s, '/', n))
		return random_in_path(m->text, &m->start, &m->end);
	return random_token(s, n);
}

/*
 * 40 characters of base64 standing alone: the shape of an AWS secret access
 * key. Mixed case, not a path, and random enough.
 */
bool redact_check_aws_secret(RedactMatch *m)
{
	const char *s = m->text + m->start;
	size_t n = m->end - m->start, slashes = 0;
	bool upper = false, lower = false;

	for (size_t i = 0; i < n; i++) {
		upper |= is_upper(s[i]);
		lower |= is_lower(s[i]);
		slashes += s[i] == '/';
	}
	if (!upper || !lower || s[0] == '/' || s[n - 1] == '/' || slashes > 2 || sequence(s, n))
		return false;
	return redact_entropy(s, n) >= entropy_floor(n) - 0.3;
}

static int b64_value(char c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * A Basic credential is base64 of "user:password": decoded (as far as it
 * goes, a cut one too), it is printable text with a ':'. "Basic
 * authentication failed" decodes to bytes that are not.
 */
bool redact_check_basic(RedactMatch *m)
{
	unsigned acc = 0, bits = 0;
	bool colon = false;

	for (size_t i = m->start; i < m->end && m->text[i] != '='; i++) {
		int v = b64_value(m->text[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			unsigned char b = (unsigned char)(acc >> (bits - 8));

			bits -= 8;
			acc &= (1u << bits) - 1;
			if (b < 0x20 || b == 0x7f)
				return false;
			colon |= b == ':';
		}
	}
	return colon;
}

/* Padded base64 of 8 characters or more: an SMTP AUTH response. */
bool redact_check_base64(RedactMatch *m)
{
	size_t n = m->end - m->start;

	return n >= 8 && n % 4 == 0;
}

/* Upper case, lower case and a digit: a weak prefix needs a random tail. */
bool redact_check_mixed(RedactMatch *m)
{
	bool upper = false, lower = false, digit = false;

	for (size_t i = m->start; i < m->end; i++) {
		upper |= is_upper(m->text[i]);
		lower |= is_lower(m->text[i]);
		digit |= is_digit(m->text[i]);
	}
	return upper && lower && digit;
}

/*
 * Key blocks over several lines. Lines of the context carry the prefix
 * "<P> IDENT: " (journal/context.c); a line of a key block is, after it,
 * base64 and blanks, an armour header ("Proc-Type: 4,ENCRYPTED", PuTTY's
 * "Private-Lines: 14"), or empty.
 */
static size_t skip_context_prefix(const char *t, size_t b, size_t e)
{
	if (e - b >= 5 && t[b] == '<' && t[b + 2] == '>' && t[b + 3] == ' ') {
		const char *colon = memmem(t + b + 4, e - b - 4 < 66 ? e - b - 4 : 66, ": ", 2);

		if (colon)
			return (size_t)(colon - t) + 2;
	}
	return b;
}

static bool armour_header(const char *s, size_t n)
{
	static const char *const headers[] = {
		"Proc-Type:",	   "DEK-Info:",	    "Comment:",
		"Version:",	   "Hash:",	    "Charset:",
		"Encryption:",	   "Public-Lines:", "Private-Lines:",
		"Key-Derivation:", "Argon2-",	    "Private-MAC:",
		"Private-Hash:",   "Subject:",	    "PuTTY-User-Key-File-"};

	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
		if (has_prefix(s, n, headers[i]))
			return true;
	return false;
}

/*
 * A line of a key block: an armour header, a blank line, or base64 and
 * blanks. Strict, walking up from an END line past the first line: base64
 * of 40 characters or more, or with a digit, '+', '/' or '=' (a short word
 * like "starting" is a log line, not a line of a key).
 */
static bool body_line(const char *t, size_t b, size_t e, bool strict)
{
	size_t n = 0;
	bool mark = false;

	b = skip_context_prefix(t, b, e);
	if (armour_header(t + b, e - b))
		return true;
	for (size_t k = b; k < e; k++) {
		if (t[k] == ' ' || t[k] == '\t' || t[k] == '\r')
			continue;
		if (!is_b64(t[k]))
			return false;
		mark |= !is_upper(t[k]) && !is_lower(t[k]);
		n++;
	}
	return !strict || n == 0 || n >= 40 || mark;
}

static size_t line_end(const char *t, size_t len, size_t p)
{
	const char *nl = memchr(t + p, '\n', len - p);

	return nl ? (size_t)(nl - t) : len;
}

/*
 * Past the closing dashes of the END line at p ("-----" or " ----"), five
 * at most: the next block's BEGIN may follow at once.
 */
static size_t past_end_line(const char *t, size_t len, size_t p)
{
	size_t e = line_end(t, len, p), k = 0;
	const char *dashes = memmem(t + p + 4, e - p - 4, "----", 4);

	if (!dashes)
		return e;
	p = (size_t)(dashes - t);
	while (p < e && t[p] == '-' && k++ < 5)
		p++;
	return p;
}

/* After PuTTY's "Private-MAC: " the hex value goes too. */
static size_t past_mac(const char *t, size_t len, size_t p)
{
	p += strcspn(t + p, ":") + 1;
	while (p < len && t[p] == ' ')
		p++;
	while (p < len && is_hex(t[p]))
		p++;
	return p;
}

/* An END line's "END ": "-----END " (PEM, PGP) or "---- END " (SSH2). */
static const char *find_end_line(const char *p, const char *stop)
{
	for (const char *hit = p; (hit = memmem(hit, (size_t)(stop - hit), "END ", 4)); hit++)
		if ((hit > p && hit[-1] == '-') ||
		    (hit > p + 1 && hit[-1] == ' ' && hit[-2] == '-'))
			return hit;
	return NULL;
}

/* PuTTY's last line: "Private-MAC:" (v2, v3) or "Private-Hash:" (v1). */
static const char *find_mac_line(const char *p, const char *stop)
{
	for (const char *hit = p; (hit = memmem(hit, (size_t)(stop - hit), "Private-", 8)); hit++)
		if (has_prefix(hit, (size_t)(stop - hit), "Private-MAC:") ||
		    has_prefix(hit, (size_t)(stop - hit), "Private-Hash:"))
			return hit;
	return NULL;
}

/*
 * The first end line at or after m->end, remembered: a later BEGIN reuses
 * what an earlier one found (or that there is none), so the text is
 * searched once per rule, not once per BEGIN.
 */
static const char *next_end(RedactMatch *m, const char *(*find)(const char *, const char *))
{
	const char *from = m->text + m->end;

	if (!m->memo_set || m->memo_from > m->end || (m->memo_hit && m->memo_hit < from)) {
		m->memo_hit = find(from, m->text + m->len);
		m->memo_from = m->end;
		m->memo_set = true;
	}
	return m->memo_hit;
}

/*
 * From a BEGIN line (or PuTTY's first line) through the first END line
 * after it (or Private-MAC:), across lines or within one. Without an end in
 * the text, the key was cut: the rest of its line and the body-like lines
 * after it go.
 */
bool redact_check_block_forward(RedactMatch *m)
{
	const char *t = m->text;
	bool putty = has_prefix(t + m->start, m->len - m->start, "PuTTY") ||
		     has_prefix(t + m->start, m->len - m->start, "Private-Lines");
	const char *hit = next_end(m, putty ? find_mac_line : find_end_line);
	size_t e;

	if (hit) {
		size_t at = (size_t)(hit - t);

		m->end = putty ? past_mac(t, m->len, at) : past_end_line(t, m->len, at);
		return true;
	}
	e = line_end(t, m->len, m->end);
	while (e < m->len) {
		size_t next = line_end(t, m->len, e + 1);

		if (!body_line(t, e + 1, next, false))
			break;
		e = next;
	}
	m->end = e;
	return true;
}

/*
 * From an END line whose BEGIN is not in the text (the context window
 * starts inside the key) back over the body: base64 before it on its line,
 * then whole body-like lines above, never past what is written out.
 */
bool redact_check_block_backward(RedactMatch *m)
{
	const char *t = m->text;
	size_t b = m->start, line;
	bool strict = false;

	while (b > m->floor && t[b - 1] != '\n' &&
	       (is_b64(t[b - 1]) || t[b - 1] == ' ' || t[b - 1] == '\t'))
		b--;
	line = b;
	while (line > m->floor && t[line - 1] != '\n')
		line--;
	/* Stopped at the start of its line (or of its context prefix): go up. */
	if (b <= skip_context_prefix(t, line, m->start)) {
		while (line > m->floor) {
			size_t prev = line - 1;

			while (prev > m->floor && t[prev - 1] != '\n')
				prev--;
			if (!body_line(t, prev, line - 1, strict))
				break;
			line = prev;
			strict = true;
		}
		b = skip_context_prefix(t, line, m->start);
	}
	while (b < m->start && (t[b] == ' ' || t[b] == '\t'))
		b++;
	m->start = b;
	return true;
}
