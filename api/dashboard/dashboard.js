/* SPDX-License-Identifier: MIT */
/*
 * Healer's dashboard. Nearly every string it shows comes from a journal
 * line or a model's reply, that is from anyone who can write to the
 * journal. So the page is built with createElement and text nodes only:
 * never innerHTML, insertAdjacentHTML, document.write or eval. The server's
 * Content-Security-Policy (no inline script or style) is the second wall,
 * not the first.
 *
 * The token lives in sessionStorage (this tab only) and goes out in the
 * Authorization header, never in a URL. The page polls every few seconds
 * with one request set at a time: the next poll is scheduled only when the
 * previous one has finished.
 *
 * The same page serves a replay's record (healer serve): the status says
 * "mode": "replay-view", and the page then shows a banner and leaves out
 * every control that would act (the API refuses them there anyway).
 */
'use strict';

const POLL_MS = 3000;
const TOKEN_KEY = 'healer.token';
const FINAL = ['healed', 'failed', 'rejected', 'skipped', 'escalated', 'interrupted'];
const STATES = ['detected', 'analyzing', 'awaiting_approval', 'executing', 'verifying', ...FINAL];

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let polling = false, pollAgain = false, pollTimer = 0;
let wlEtag = '';
let readOnly = null; /* null until the first status: true for a replay's record */
let shown = {}; /* the JSON last rendered per section: unchanged data is not redrawn */
let noticeTimer = 0, pollFailed = false;
const openAttempts = new Set(); /* history items the user expanded */

/* el('p', {className: 'x'}, 'text', child...): props are set as DOM
 * properties from literals in this file; children become text nodes. */
function el(tag, props, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (k === 'onclick') e.addEventListener('click', v);
		else e[k] = v;
	}
	for (const c of children.flat(Infinity)) {
		if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
	}
	return e;
}

function show(node, visible) { node.hidden = !visible; }

function say(node, text, isError) {
	node.textContent = text || '';
	node.classList.toggle('error', !!isError);
	show(node, !!text);
}

/* A line above the page: a poll's failure stays until a poll succeeds;
 * the outcome of a click fades after a while. */
function notice(text, isError, sticky) {
	clearTimeout(noticeTimer);
	say($('notice'), text, isError);
	if (!sticky) noticeTimer = setTimeout(() => show($('notice'), false), 8000);
}

class ApiError extends Error {
	constructor(status, message, body) {
		super(message);
		this.status = status;
		this.body = body;
	}
}

/* One request. Resolves to the parsed reply when it says "success";
 * throws ApiError otherwise. A 401 signs the user out with a message. */
async function api(method, path, body, headers) {
	const sent = token;
	const init = {method, cache: 'no-store', credentials: 'omit', headers: Object.assign({}, headers)};
	if (sent) init.headers.Authorization = 'Bearer ' + sent;
	if (typeof body === 'string') {
		init.body = body;
	} else if (body !== undefined) {
		init.body = JSON.stringify(body);
		init.headers['Content-Type'] = 'application/json';
	}
	let res;
	try {
		res = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, 'Healer does not answer (' + e.message + '); retrying.');
	}
	let data = null;
	try {
		data = await res.json();
	} catch (e) {
		data = null;
	}
	if (res.status === 401) {
		/* A late answer to a token already replaced must not sign the new one out. */
		if (sent === token) signOut('The API refused this token (HTTP 401 Unauthorized). ' +
			'Enter the token from the file named by [api] token_file.');
		throw new ApiError(401, 'unauthorized', data);
	}
	if (!res.ok || !data || data.status !== 'success') {
		const why = data && typeof data.error === 'string' ? data.error : res.statusText;
		throw new ApiError(res.status, 'HTTP ' + res.status + ': ' + why, data);
	}
	return data;
}

/* ---- sign in and out ---- */

function signIn(t) {
	token = t;
	sessionStorage.setItem(TOKEN_KEY, t);
	show($('login'), false);
	show($('app'), true);
	show($('signout'), true);
	shown = {};
	refresh(); /* the whitelist loads once the status says the daemon is live */
}

function signOut(message) {
	token = '';
	readOnly = null;
	sessionStorage.removeItem(TOKEN_KEY);
	clearTimeout(pollTimer);
	show($('app'), false);
	show($('toggle'), false);
	show($('view-banner'), false);
	show($('signout'), false);
	show($('notice'), false);
	show($('login'), true);
	say($('auth-message'), message, true);
	$('summary').textContent = 'Not connected';
	$('token').focus();
}

/* ---- polling ---- */

async function refresh() {
	if (!token) return;
	if (polling) {
		pollAgain = true;
		return;
	}
	polling = true;
	pollAgain = false;
	clearTimeout(pollTimer);
	try {
		const [st, stats, hist, waiting] = await Promise.all([
			api('GET', '/api/auto-healer/status'),
			api('GET', '/api/auto-healer/statistics'),
			api('GET', '/api/auto-healer/history?limit=50&offset=0'),
			api('GET', '/api/auto-healer/history?limit=100&offset=0&state=awaiting_approval'),
		]);
		applyMode(st.auto_healer || {});
		renderStatus(st.auto_healer || {});
		renderStats(stats.statistics || {});
		renderActive(hist.history || [], waiting.history || []);
		renderHistory(hist);
		if (pollFailed) show($('notice'), false);
		pollFailed = false;
	} catch (e) {
		if (e.status !== 401) {
			notice(e.message, true, true);
			pollFailed = true;
		}
	} finally {
		polling = false;
		if (token) pollTimer = setTimeout(refresh, pollAgain ? 0 : POLL_MS);
	}
}

/* True when data differs from what the section shows (and remembers it). */
function changed(section, data) {
	const s = JSON.stringify(data);
	if (shown[section] === s) return false;
	shown[section] = s;
	return true;
}

/* ---- formatting ---- */

function fmtTime(ts) {
	const d = new Date(ts);
	return ts && !isNaN(d) ? d.toLocaleString() : String(ts ?? '');
}

function fmtSpan(seconds) {
	let s = Math.floor(Number(seconds) || 0);
	const parts = [];
	for (const [unit, n] of [['d', 86400], ['h', 3600], ['min', 60]]) {
		if (s >= n) {
			parts.push(Math.floor(s / n) + unit);
			s %= n;
		}
	}
	if (s || !parts.length) parts.push(s + 's');
	return parts.join(' ');
}

function fmtArgv(argv) {
	if (!Array.isArray(argv)) return String(argv ?? '');
	return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(String(a)))).join(' ');
}

function badge(status) {
	const cls = STATES.includes(status) ? 's-' + status : 's-unknown';
	return el('span', {className: 'badge ' + cls}, String(status ?? '?').replace('_', ' '));
}

function facts(dl, rows) {
	dl.replaceChildren();
	for (const [k, v] of rows) {
		if (v === undefined || v === null || v === '') continue;
		dl.append(el('div', {}, el('dt', {}, k), el('dd', {}, v)));
	}
}

/* ---- sections ---- */

/* Live daemon or a replay's record: what the page offers follows the status. */
function applyMode(s) {
	const ro = s.mode === 'replay-view' || s.read_only === true;
	if (ro === readOnly) return;
	readOnly = ro;
	show($('view-banner'), ro);
	show($('inject'), !ro);
	show($('wl'), !ro);
	$('wl-save').disabled = ro;
	for (const b of $('inject-form').querySelectorAll('button')) b.disabled = ro;
	if (ro) {
		show($('toggle'), false);
		shown.active = null; /* redrawn without the approve and reject buttons */
	} else {
		loadWhitelist();
	}
}

function renderView(s) {
	const r = s.record || {};
	const span = r.first_seen ? fmtTime(r.first_seen) + ' to ' + fmtTime(r.last_seen) : 'no incidents';
	$('summary').textContent = 'Read-only replay view';
	$('view-banner').textContent = 'Read-only replay view of ' + (s.file ?? '?') + ' (' + span +
		'): what Healer would have done over that journal, in dry run. Nothing here acts: ' +
		'no approvals, no switch, no test errors, no whitelist edits.';
	if (!changed('status', s)) return;
	facts($('status'), [
		['Mode', 'read-only replay view'],
		['Record', s.file],
		['First line', r.first_seen ? fmtTime(r.first_seen) : ''],
		['Last line', r.last_seen ? fmtTime(r.last_seen) : ''],
		['Incidents', r.incidents],
		['Lines', r.lines],
		['Attempts', r.attempts],
		['Version', s.version],
	]);
}

function renderStatus(s) {
	if (readOnly) {
		renderView(s);
		return;
	}
	const toggle = $('toggle');
	toggle.textContent = s.enabled ? 'Disable healing' : 'Enable healing';
	toggle.dataset.enable = s.enabled ? 'no' : 'yes';
	show(toggle, true);
	const j = s.journal || {};
	$('summary').textContent = (s.enabled ? 'Healing enabled' : 'Healing disabled') +
		(s.monitoring ? ', following the journal' : ', not following the journal') +
		(s.circuit === 'open' ? ', model circuit open' : '');
	if (!changed('status', s)) return;
	facts($('status'), [
		['Healing', s.enabled ? 'enabled' : 'disabled'],
		['Runs fixes', s.dry_run ? 'never (dry run)' : s.auto_execute ? 'automatically' : 'after approval'],
		['Journal', (j.source ?? '') + (s.monitoring ? '' : ' (not followed)')],
		['Journal lag', j.lag_seconds !== undefined ? fmtSpan(j.lag_seconds) : ''],
		['Provider', [s.provider, s.model].filter(Boolean).join(' / ')],
		['Model circuit', s.circuit],
		['Model key', s.key_missing ? 'missing: ' + s.key_missing : ''],
		['Whitelist', s.whitelist],
		['Max attempts', s.max_attempts],
		['Uptime', s.uptime_seconds !== undefined ? fmtSpan(s.uptime_seconds) : ''],
		['Version', s.version],
	]);
}

function renderStats(s) {
	if (!changed('stats', s)) return;
	const rate = Number(s.success_rate);
	facts($('stats'), [
		['Attempts', s.total_attempts],
		['Healed', s.successful],
		['Failed', s.failed],
		['Pending', s.pending],
		['Rejected', s.rejected],
		['Skipped', s.skipped],
		['Escalated', s.escalated],
		['Interrupted', s.interrupted],
		/* healed / (healed + failed), a fraction; meaningless before either */
		['Success rate', isFinite(rate) && s.successful + s.failed > 0 ? (rate * 100).toFixed(1) + ' %' : '—'],
		['Mean time to heal', s.mean_time_to_heal_ms !== undefined ? Math.round(s.mean_time_to_heal_ms) + ' ms' : ''],
		['Model calls', s.llm_calls],
		['Served from cache', s.llm_cache_hits],
	]);
	const by = s.by_action && typeof s.by_action === 'object' ? Object.entries(s.by_action) : [];
	const box = $('by-action');
	box.replaceChildren();
	if (!by.length) return;
	/* {name: {"runs", "failures", "refused"}}: one column per key of the first row */
	const first = by[0][1];
	const cols = first && typeof first === 'object' ? Object.keys(first) : ['count'];
	const rows = by.map(([name, v]) => el('tr', {}, el('th', {scope: 'row'}, name),
		cols.map((k) => el('td', {}, v && typeof v === 'object' ? v[k] ?? '' : v))));
	box.append(el('div', {className: 'scroll'}, el('table', {},
		el('caption', {}, 'By action'),
		el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, 'Action'),
			cols.map((k) => el('th', {scope: 'col'}, k)))),
		el('tbody', {}, rows))));
}

function attemptLine(a) {
	const e = a.error || {};
	return [el('span', {className: 'id'}, '#' + a.id), ' ', badge(a.status), ' ',
		e.source === 'injected' ? [el('span', {className: 'badge'}, 'test'), ' '] : '',
		el('strong', {}, e.service ?? ''), ' ', el('span', {className: 'msg'}, e.message ?? '')];
}

/* One stored plan step: the action and its arguments as NAME=VALUE. */
function fmtPlanStep(step) {
	const args = step && typeof step.args === 'object' && step.args ? step.args : {};
	return [String(step?.action ?? '?'), ...Object.entries(args).map(([k, v]) => k + '=' + String(v))].join(' ');
}

function renderActive(recent, waiting) {
	const byId = new Map();
	for (const a of [...waiting, ...recent]) {
		if (!FINAL.includes(a.status)) byId.set(a.id, a);
	}
	const list = [...byId.values()].sort((x, y) => y.id - x.id);
	if (!changed('active', list)) return;
	const ul = $('active');
	ul.replaceChildren();
	if (!list.length) ul.append(el('li', {className: 'empty'}, 'Nothing in progress.'));
	for (const a of list) {
		const li = el('li', {className: 'card'}, el('p', {}, attemptLine(a)),
			el('p', {className: 'hint'}, 'since ', el('time', {dateTime: String(a.timestamp ?? '')}, fmtTime(a.timestamp))));
		if (a.reason) li.append(el('p', {}, a.reason));
		if (a.diagnosis) li.append(el('p', {}, 'Diagnosis: ', a.diagnosis));
		if (Array.isArray(a.actions) && a.actions.length) {
			li.append(el('ul', {className: 'plain'}, a.actions.map((c) =>
				el('li', {}, el('code', {}, fmtArgv(c.argv) || c.action)))));
		} else if (Array.isArray(a.plan) && a.plan.length) {
			/* Nothing ran yet: what would run, as the whitelist accepted it. */
			li.append(el('p', {}, 'Plan:'), el('ul', {className: 'plain plan'}, a.plan.map((c) =>
				el('li', {}, el('code', {}, fmtPlanStep(c))))));
		}
		li.dataset.attempt = a.id;
		li.dataset.status = a.status;
		if (a.status === 'awaiting_approval' && !readOnly) {
			li.append(el('div', {className: 'row'},
				el('button', {type: 'button', className: 'approve', onclick: () => decide(a.id, 'approve')}, 'Approve #' + a.id),
				el('button', {type: 'button', className: 'reject', onclick: () => decide(a.id, 'reject')}, 'Reject #' + a.id)));
		}
		ul.append(li);
	}
}

function renderAction(c) {
	const head = [el('strong', {}, c.action ?? '?'), ' ',
		c.accepted === false ? 'refused' : 'exit ' + (c.exit_code ?? '?'),
		c.duration_ms !== undefined ? ', ' + c.duration_ms + ' ms' : '',
		c.reason ? ' (' + c.reason + ')' : ''];
	return el('li', {className: 'action'}, el('p', {}, head),
		el('pre', {className: 'argv'}, fmtArgv(c.argv)),
		c.output ? el('details', {}, el('summary', {}, 'Output'), el('pre', {}, c.output)) : null);
}

function renderHistory(h) {
	const items = h.history || [];
	$('history-count').textContent = items.length ?
		'Latest ' + items.length + (h.total !== undefined ? ' of ' + h.total : '') + ' attempts' : 'No attempts yet.';
	if (!changed('history', items)) return;
	const ol = $('history');
	ol.replaceChildren();
	for (const a of items) {
		const e = a.error || {};
		const d = el('details', {open: openAttempts.has(a.id)},
			el('summary', {}, el('time', {dateTime: String(a.timestamp ?? '')}, fmtTime(a.timestamp)), ' ', attemptLine(a)));
		d.addEventListener('toggle', () => (d.open ? openAttempts.add(a.id) : openAttempts.delete(a.id)));
		const dl = el('dl', {className: 'facts'});
		facts(dl, [
			['Reason', a.reason],
			['Diagnosis', a.diagnosis],
			['Provider', [a.provider, a.model].filter(Boolean).join(' / ')],
			['Verification', a.verification === a.reason ? '' :
				typeof a.verification === 'object' && a.verification !== null ?
					JSON.stringify(a.verification) : a.verification],
			['Level', e.level],
			['Seen', e.count > 1 ? e.count + ' times' : ''],
			['Fingerprint', e.fingerprint],
		]);
		d.append(dl);
		const acts = Array.isArray(a.actions) ? a.actions : [];
		d.append(acts.length ? el('ol', {className: 'actions'}, acts.map(renderAction)) :
			el('p', {className: 'hint'}, 'No command ran.'));
		const li = el('li', {}, d);
		li.dataset.attempt = a.id; /* for tests and user styles; set as attributes, not HTML */
		li.dataset.status = a.status;
		ol.append(li);
	}
}

/* ---- actions ---- */

async function decide(id, verb) {
	if (readOnly) return;
	for (const b of $('active').querySelectorAll('button')) b.disabled = true;
	try {
		await api('POST', '/api/auto-healer/attempts/' + encodeURIComponent(id) + '/' + verb);
		notice('Attempt #' + id + (verb === 'approve' ? ' approved.' : ' rejected.'), false);
	} catch (e) {
		if (e.status !== 401) notice('Could not ' + verb + ' #' + id + ': ' + e.message, true);
	}
	shown.active = null;
	refresh();
}

async function toggleHealing() {
	if (readOnly) return;
	const verb = $('toggle').dataset.enable === 'yes' ? 'enable' : 'disable';
	$('toggle').disabled = true;
	try {
		await api('POST', '/api/auto-healer/' + verb);
		notice('Healing ' + verb + 'd.', false);
	} catch (e) {
		if (e.status !== 401) notice('Could not ' + verb + ': ' + e.message, true);
	}
	$('toggle').disabled = false;
	refresh();
}

async function inject(ev) {
	ev.preventDefault();
	if (readOnly) return;
	const out = $('inject-result');
	const body = {
		service: $('inject-service').value, message: $('inject-message').value,
		level: $('inject-level').value,
	};
	try {
		const r = await api('POST', '/api/test/inject-error', body);
		say(out, 'Injected: incident #' + r.incident_id +
			(r.attempt_id ? ', attempt #' + r.attempt_id : ', no attempt (policy skipped it; see history)') +
			' (via ' + r.via + ').', false);
		refresh();
	} catch (e) {
		if (e.status !== 401) say(out, 'Not injected: ' + e.message, true);
	}
}

/* ---- whitelist ---- */

function renderWhitelistActions(actions) {
	const ul = $('wl-actions');
	ul.replaceChildren();
	for (const a of Array.isArray(actions) ? actions : []) {
		if (a === null || typeof a !== 'object') {
			ul.append(el('li', {}, String(a)));
			continue;
		}
		const run = a.exec ?? a.argv ?? a.builtin;
		ul.append(el('li', {}, el('strong', {}, a.name ?? a.action ?? '?'),
			a.description ? ' — ' + a.description : '',
			run !== undefined ? el('pre', {}, Array.isArray(run) ? fmtArgv(run) : String(run)) : null));
	}
}

async function loadWhitelist(note) {
	$('wl-errors').replaceChildren();
	try {
		const r = await api('GET', '/api/whitelist');
		wlEtag = r.etag;
		$('wl-text').value = r.text ?? '';
		renderWhitelistActions(r.actions);
		$('wl-state').textContent = typeof note === 'string' ? note : 'Loaded.';
	} catch (e) {
		if (e.status !== 401) $('wl-state').textContent = 'Could not load: ' + e.message;
	}
}

/* Selects line n of the textarea, so that an error can be fixed where it is. */
function gotoLine(n) {
	const ta = $('wl-text');
	const lines = ta.value.split('\n');
	const start = lines.slice(0, n - 1).reduce((sum, l) => sum + l.length + 1, 0);
	ta.focus();
	ta.setSelectionRange(start, start + (lines[n - 1] ?? '').length);
}

async function saveWhitelist(ev) {
	ev.preventDefault();
	if (readOnly) return;
	const box = $('wl-errors');
	box.replaceChildren();
	$('wl-save').disabled = true;
	$('wl-state').textContent = 'Saving…';
	try {
		const r = await api('PUT', '/api/whitelist', $('wl-text').value,
			{'Content-Type': 'text/plain; charset=utf-8', 'If-Match': wlEtag});
		wlEtag = r.etag;
		loadWhitelist('Saved; the new whitelist is live.');
	} catch (e) {
		$('wl-state').textContent = 'Not saved.';
		const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors : [];
		if (e.status === 412) {
			box.append(el('p', {className: 'error'},
				'Someone else changed the whitelist since it was loaded here; your text was not saved. '),
			el('button', {type: 'button', onclick: () => loadWhitelist()}, 'Load their version (discards your edits)'));
		} else if (errs.length) {
			box.append(el('p', {className: 'error'}, 'The whitelist has ' + errs.length +
				(errs.length > 1 ? ' errors' : ' error') + '; nothing was changed:'),
			el('ul', {className: 'errors'}, errs.map((x) => el('li', {},
				el('button', {type: 'button', className: 'link', value: String(x.line), onclick: () => gotoLine(x.line)},
					'Line ' + x.line),
				': ' + (x.message ?? '')))));
		} else if (e.status !== 401) {
			box.append(el('p', {className: 'error'}, e.message));
		}
	}
	$('wl-save').disabled = !!readOnly;
}

/* ---- start ---- */

document.addEventListener('DOMContentLoaded', () => {
	$('login-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		const t = $('token').value.trim();
		$('token').value = '';
		show($('auth-message'), false);
		if (t) signIn(t);
	});
	$('signout').addEventListener('click', () => signOut(''));
	$('toggle').addEventListener('click', toggleHealing);
	$('inject-form').addEventListener('submit', inject);
	$('wl-form').addEventListener('submit', saveWhitelist);
	$('wl-reload').addEventListener('click', () => loadWhitelist());
	if (token) signIn(token);
	else signOut('');
});
