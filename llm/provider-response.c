/* SPDX-License-Identifier: MIT */
/*
 * Reading a provider's HTTP response (shared/WIRE.md): the reply text, or a
 * failure with its class (retry, fail, configuration fault) and the server's
 * retry hint. Pure: no I/O, the clock only when the caller passes none.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"
#include "llm/provider.h"

#define THINKING_SPENT                                                                \
	"model spent its output budget thinking (%lld thinking tokens); raise [llm] " \
	"max_output_tokens"

void llm_response_done(LlmResponse *r)
{
	free(r->text);
	free(r->error);
	free(r->model_version);
	*r = (LlmResponse){0};
}

_printf_(2, 3) static int set_error(LlmResponse *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	free(r->error);
	r->error = NULL;
	va_start(ap, fmt);
	k = vasprintf(&r->error, fmt, ap);
	va_end(ap);
	if (k < 0) {
		r->error = NULL;
		return -ENOMEM;
	}
	/* Server text may hold anything: keep the one line printable ASCII. */
	for (char *c = r->error; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = (unsigned char)*c >= 0x7f ? '?' : ' ';
	return 0;
}

/* Worth another try: a timeout, a rate limit, a server error (but not 501 or 505). */
static bool retryable_code(long s)
{
	return s == 408 || s == 429 || (s >= 500 && s <= 599 && s != 501 && s != 505);
}

/* "53s", "1.5s" -> µs, capped at an hour; 0 when unreadable. */
static uint64_t parse_seconds(const char *s, bool need_suffix)
{
	char *end = NULL;
	double v;

	if (!s || !((*s >= '0' && *s <= '9')))
		return 0;
	v = strtod(s, &end);
	if (!end || (need_suffix ? strcmp(end, "s") != 0 : *end != '\0') || v < 0)
		return 0;
	if (v > 3600)
		v = 3600;
	return (uint64_t)(v * 1e6);
}

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds, or an HTTP date, whose
 * every form (IMF-fixdate, RFC 850, asctime) begins with a day name; curl's
 * date parser reads all three. A date in the past is no hint. Capped at an
 * hour like any other hint; the client gives up past its own max_wait.
 */
static uint64_t parse_retry_after(const char *s, int64_t now)
{
	time_t t;

	if (!s)
		return 0;
	if (isdigit((unsigned char)s[0]))
		return parse_seconds(s, false);
	if (!isalpha((unsigned char)s[0]) || !strchr(s, ':'))
		return 0;
	t = curl_getdate(s, NULL);
	if (t < 0)
		return 0;
	if (now <= 0)
		now = (int64_t)time(NULL);
	if ((int64_t)t <= now)
		return 0;
	return (int64_t)t - now > 3600 ? 3600 * USEC_PER_SEC
				       : (uint64_t)((int64_t)t - now) * USEC_PER_SEC;
}

static const char *str_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t int_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15
		       ? (int64_t)v->valuedouble
		       : -1;
}

/* An error code as a number, or a string of digits ("502"); -1 otherwise. */
static long code_at(const cJSON *o, const char *key)
{
	const char *s = str_at(o, key);
	uint64_t v;

	if (s)
		return util_parse_u64(s, 0, 999, &v) == 0 ? (long)v : -1;
	return (long)int_at(o, key);
}

/* Gemini's google.rpc.X detail of error.details[], or NULL. */
static const cJSON *gemini_detail(const cJSON *error, const char *type)
{
	const cJSON *d, *details = cJSON_GetObjectItemCaseSensitive(error, "details");

	cJSON_ArrayForEach(d, details)
	{
		const char *t = str_at(d, "@type");

		if (t && strstr(t, type))
			return d;
	}
	return NULL;
}

/* ErrorInfo reasons about the key: API_KEY_INVALID, API_KEY_EXPIRED... */
static bool key_reason(const char *reason)
{
	return reason && strncmp(reason, "API_KEY_", 8) == 0;
}

/* OpenRouter's moderation refusal names its reasons or the flagged input. */
static bool moderation(const cJSON *error)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(error, "metadata");
	const char *msg = str_at(error, "message");

	return cJSON_GetObjectItemCaseSensitive(meta, "reasons") ||
	       cJSON_GetObjectItemCaseSensitive(meta, "flagged_input") ||
	       (msg && (strcasestr(msg, "moderation") || strcasestr(msg, "flagged")));
}

/*
 * Which HTTP errors are configuration faults. Only what the key, the
 * account or the model name decide; never what the prompt can cause, since
 * anyone who writes a journal line shapes the prompt and must not be able to
 * switch the provider off: a 400 INVALID_ARGUMENT for any other reason (a
 * prompt too long) and a moderation 403 stay plain failures. The key fault
 * is read from Gemini's structured ErrorInfo, never from message text (which
 * might echo the request); message text may only make a 403 moderation,
 * the safe way round. One edge is left: OpenRouter's 402 "requires more
 * credits" depends on the request's size too, but only on an account all
 * but out of credits, which is the administrator's to fix anyway.
 */
static LlmFault classify_fault(LlmKind kind, long status, const cJSON *error)
{
	const char *st = str_at(error, "status");

	if (kind == LLM_KIND_GEMINI) {
		const char *reason = str_at(gemini_detail(error, "google.rpc.ErrorInfo"), "reason");

		/* A bad or expired key: 400 with ErrorInfo reason API_KEY_INVALID... */
		if (status == 400 && key_reason(reason))
			return LLM_FAULT_KEY;
		/* Billing off, or the free tier unavailable where the host is. */
		if (status == 400 && st && strcmp(st, "FAILED_PRECONDITION") == 0)
			return LLM_FAULT_BILLING;
		return status == 401   ? LLM_FAULT_KEY
		       : status == 403 ? LLM_FAULT_ACCESS
		       : status == 404 ? LLM_FAULT_MODEL
				       : LLM_FAULT_NONE;
	}
	if (status == 401)
		return LLM_FAULT_KEY;
	/* Out of credits; an in-flight budget (limit_source) is transient instead. */
	if (status == 402)
		return LLM_FAULT_BILLING;
	if (status == 403 && !moderation(error))
		return LLM_FAULT_ACCESS;
	return LLM_FAULT_NONE;
}

/* OpenRouter's 402 when requests still running fill the spending budget. */
static bool in_flight_budget(const cJSON *error)
{
	const char *src =
		str_at(cJSON_GetObjectItemCaseSensitive(error, "metadata"), "limit_source");

	return src && strstr(src, "in_flight");
}

static int parse_error_status(LlmKind kind, long status, const cJSON *root, LlmResponse *r)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
	const char *msg = str_at(error, "message"), *st = str_at(error, "status"),
		   *reason = str_at(gemini_detail(error, "google.rpc.ErrorInfo"), "reason");

	if (kind != LLM_KIND_GEMINI && status == 402 && in_flight_budget(error))
		r->outcome = LLM_OUTCOME_RETRY;
	else if ((r->fault = classify_fault(kind, status, error)) != LLM_FAULT_NONE)
		r->outcome = LLM_OUTCOME_CONFIG;
	else
		r->outcome = retryable_code(status) ? LLM_OUTCOME_RETRY : LLM_OUTCOME_FAIL;
	if (kind == LLM_KIND_GEMINI) {
		uint64_t d = parse_seconds(
			str_at(gemini_detail(error, "google.rpc.RetryInfo"), "retryDelay"), true);

		if (d)
			r->retry_after_usec = d;
	}
	return set_error(r, "HTTP %ld%s%.64s%s%.64s%s%s%.200s", status, st ? " " : "", st ? st : "",
			 reason ? " " : "", reason ? reason : "", msg ? ":" : "", msg ? " " : "",
			 msg ? msg : "");
}

/*
 * The answer's text: every part but the model's thoughts ("thought": true
 * is reasoning, not the answer, however plan-like it reads). Returns the
 * length (0: no text) or -ENOMEM.
 */
static ssize_t gemini_text(const cJSON *cand, LlmResponse *r)
{
	const cJSON *p, *parts = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(cand, "content"), "parts");
	size_t n = 0;

	cJSON_ArrayForEach(p, parts)
	{
		const char *t = str_at(p, "text");
		size_t tl = t ? strlen(t) : 0;
		char *nt;

		if (!t || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "thought")))
			continue;
		nt = realloc(r->text, n + tl + 1);
		if (!nt)
			return -ENOMEM;
		r->text = nt;
		memcpy(r->text + n, t, tl + 1);
		n += tl;
	}
	if (n == 0) {
		free(r->text);
		r->text = NULL;
	}
	return (ssize_t)n;
}

/* Thinking tokens are billed as output: tokens_out holds them too. */
static void gemini_usage(const cJSON *root, LlmResponse *r)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usageMetadata");
	int64_t cand = int_at(usage, "candidatesTokenCount");

	r->tokens_in = int_at(usage, "promptTokenCount");
	r->tokens_thinking = int_at(usage, "thoughtsTokenCount");
	r->tokens_total = int_at(usage, "totalTokenCount");
	r->tokens_out =
		cand < 0 && r->tokens_thinking < 0
			? -1
			: (cand > 0 ? cand : 0) + (r->tokens_thinking > 0 ? r->tokens_thinking : 0);
}

static int parse_gemini(const cJSON *root, LlmResponse *r)
{
	const cJSON *c =
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "candidates"), 0);
	const char *finish, *block;
	ssize_t n;

	gemini_usage(root, r);
	if (str_at(root, "modelVersion") &&
	    !(r->model_version = strdup(str_at(root, "modelVersion"))))
		return -ENOMEM;
	if (!c) {
		block = str_at(cJSON_GetObjectItemCaseSensitive(root, "promptFeedback"),
			       "blockReason");
		r->outcome = LLM_OUTCOME_FAIL;
		return block ? set_error(r, "prompt blocked: %.64s", block)
			     : set_error(r, "reply has no candidates");
	}
	finish = str_at(c, "finishReason");
	n = gemini_text(c, r);
	if (n < 0)
		return -ENOMEM;
	if (!finish || strcmp(finish, "STOP") != 0) {
		free(r->text);
		r->text = NULL;
		r->outcome = LLM_OUTCOME_FAIL;
		if (n == 0 && finish && strcmp(finish, "MAX_TOKENS") == 0 && r->tokens_thinking > 0)
			return set_error(r, THINKING_SPENT, (long long)r->tokens_thinking);
		return set_error(r, "not a usable plan: finishReason %.64s",
				 finish ? finish : "missing");
	}
	if (n == 0) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no text");
	}
	r->outcome = LLM_OUTCOME_OK;
	return 0;
}

/* An error object's code and message as one outcome: retried as its code says. */
static int body_error(const cJSON *error, const char *where, LlmResponse *r)
{
	long code = code_at(error, "code");
	const char *msg = str_at(error, "message");

	r->outcome = retryable_code(code) ? LLM_OUTCOME_RETRY : LLM_OUTCOME_FAIL;
	return set_error(r, "error in the %s: %ld %.200s", where, code, msg ? msg : "");
}

static int parse_chat(const cJSON *root, LlmResponse *r)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error"),
		    *usage = cJSON_GetObjectItemCaseSensitive(root, "usage"), *c, *cerr;
	const char *finish, *content;

	r->tokens_in = int_at(usage, "prompt_tokens");
	r->tokens_out = int_at(usage, "completion_tokens"); /* reasoning included */
	r->tokens_total = int_at(usage, "total_tokens");
	r->tokens_thinking =
		int_at(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens_details"),
		       "reasoning_tokens");
	if (str_at(root, "model") && !(r->model_version = strdup(str_at(root, "model"))))
		return -ENOMEM;
	/* OpenRouter: an error after generation began comes with HTTP 200... */
	if (error)
		return body_error(error, "reply body", r);
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	if (!c) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no choices");
	}
	/* ...or inside the choice, with finish_reason "error". */
	cerr = cJSON_GetObjectItemCaseSensitive(c, "error");
	if (cJSON_IsObject(cerr))
		return body_error(cerr, "choice", r);
	finish = str_at(c, "finish_reason");
	content = str_at(cJSON_GetObjectItemCaseSensitive(c, "message"), "content");
	/* Some local servers leave finish_reason out; anything but stop is not a plan. */
	if (finish && strcmp(finish, "stop") != 0) {
		r->outcome = LLM_OUTCOME_FAIL;
		if (strcmp(finish, "length") == 0 && (!content || !content[0]) &&
		    r->tokens_thinking > 0)
			return set_error(r, THINKING_SPENT, (long long)r->tokens_thinking);
		return set_error(r, "not a usable plan: finish_reason %.64s", finish);
	}
	if (!content || !content[0]) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no content");
	}
	r->text = strdup(content);
	if (!r->text)
		return -ENOMEM;
	r->outcome = LLM_OUTCOME_OK;
	return 0;
}

int llm_response_parse(LlmKind kind, long status, const char *retry_after, int64_t now_unix,
		       const char *body, size_t len, LlmResponse *ret)
{
	LlmResponse r = {
		.tokens_in = -1, .tokens_out = -1, .tokens_total = -1, .tokens_thinking = -1};
	cJSON *root = NULL;
	int k;

	r.retry_after_usec = parse_retry_after(retry_after, now_unix);
	if (len > LLM_RESPONSE_MAX_BYTES) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "response is %zu bytes, over the %d-byte cap", len,
			      LLM_RESPONSE_MAX_BYTES);
		goto out;
	}
	/*
	 * A NUL, raw or escaped, would silently cut the reply text short in
	 * cJSON's C strings: a reply that is not all there is not a reply.
	 */
	if (body && (memchr(body, '\0', len) || util_json_has_nul_escape(body, len))) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "HTTP %ld with a NUL byte in the body", status);
		goto out;
	}
	root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (status < 200 || status > 299) {
		k = parse_error_status(kind, status, root, &r);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "HTTP %ld but the body is not a JSON object", status);
		goto out;
	}
	k = kind == LLM_KIND_GEMINI ? parse_gemini(root, &r) : parse_chat(root, &r);
out:
	cJSON_Delete(root);
	if (k < 0) {
		llm_response_done(&r);
		return k;
	}
	*ret = r;
	return 0;
}
