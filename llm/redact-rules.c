/* SPDX-License-Identifier: MIT */
/*
 * The redaction table. Rows run in this order, each over the whole text
 * (every line of the evidence joined by newlines). A row names its class,
 * lists the words one of which every match holds (the prefilter), and gives
 * a pattern whose match, or the part after \K, is the secret. The classes
 * and their cases are in tests/data/redaction/; its README says what each
 * row catches and leaves.
 *
 * A row fires only when one of its words occurs in the text: each is part of
 * every match of its pattern, or of every phrase of its context (tests and
 * the fuzzer check that the prefilter never changes a result).
 *
 * The patterns are written for text an attacker controls: no unbounded
 * quantifier may rescan the text from every start position (bounded runs,
 * delimiters that stop a run), so that a line of 16 KiB costs linear time.
 * The shapes were learned from the public rule sets of secret scanners;
 * the patterns are our own.
 */
#include "common/util.h"
#include "llm/redact-internal.h"

/* Not preceded by a word character: the start of a name or token. */
#define B "(?<![A-Za-z0-9_])"
/* Not followed by one: the end of it. */
#define E "(?![A-Za-z0-9_])"
/* The end of a line: a token cut there (by a length cap) is still a secret. */
#define EOL "(?=\\n|\\z)"
/* The prefix journal/context.c gives each context line: "<3> sshd: ". */
#define CTX    "(?:<[0-7?]> [^\\n]{0,64}?: )?"
#define SCHEME B "[A-Za-z][A-Za-z0-9+.-]{0,31}://"
/* A known prefix, then at least n characters of cs, or 8 or more at a cut. */
#define TOKEN(prefix, cs, n) B prefix "(?:" cs "{" #n ",}+|" cs "{8,}+" EOL ")"

/* PEM labels of public things: certificates, public keys, parameters. */
#define PUBLIC_LABEL                                                                        \
	"(?:(?:TRUSTED |ATTRIBUTE )?CERTIFICATE|X509 CRL|(?:NEW )?CERTIFICATE REQUEST|"     \
	"(?:RSA |DSA |EC |SSH2 )?PUBLIC KEY|PGP PUBLIC KEY BLOCK|PGP SIGNATURE|PGP SIGNED " \
	"MESSAGE|PGP MESSAGE|PKCS7|CMS|(?:X9\\.42 )?DH PARAMETERS|EC PARAMETERS)"
#define LABEL "(?!" PUBLIC_LABEL " ?-)[A-Za-z0-9][A-Za-z0-9 ._]{0,63}? ?-{4,5}"

/*
 * A name ending in a secret's name (DB_PASSWORD, X-Auth-Token,
 * aws_secret_access_key, keyStorePassword), then a separator. The prefix is
 * bounded so that a long run of name characters costs linear time. "pass"
 * alone must not end "bypass" or "compass".
 */
#define SECRET_NAME                                                                             \
	"(?:pass(?:word|wd|wort|phrase)|(?<!by|com|sur|tres|over)pass|pwd|pw|psk|secret|token|" \
	"credentials?|api[_.-]?key|apikey|(?:access|secret|private|auth|account|shared[_.-]?"   \
	"access|master|signing|encryption|session|client|app|preshared|storage|subscription|"   \
	"license|consumer|webhook|hmac|jwt)[_.-]?key|secret[_.-]?key[_.-]?base|密码|口令|"  \
	"パスワード|contraseña|senha|"                                                    \
	"mot[_ ]de[_ ]passe|пароль|Пароль|ПАРОЛЬ)"
/*
 * Not a program's name: the identifier of a context line ("<5> passwd:
 * ..."), nor passwd and its kin opening a line ("chpasswd: (user bob)
 * pam_chauthtok() failed").
 */
#define NOT_A_PROGRAM \
	"(?<!<[0-7?]> )(?!(?<![^\\n])(?:[a-z]{0,8}passwd|1password)(?:\\[[0-9]+\\])?:[ \\t])"
#define NAME B NOT_A_PROGRAM "[A-Za-z0-9_.-]{0,64}?" SECRET_NAME
#define NAME_WORDS                                                                                  \
	"pass|pwd|pw|psk|secret|token|credential|key|密码|口令|パスワード|contrase|senha|" \
	"пароль|Пароль|ПАРОЛЬ"
/* = : := => or a full-width colon or equals sign; "=>" is never "=" then ">". */
#define SEPARATOR "(?::=|=>|:(?!=)|=(?![>=])|：|＝)"
/* After the name: a closing quote (maybe JSON-escaped), then the separator. */
#define SEP "(?:\\\\?[\"'])?[ \\t]*" SEPARATOR "[ \\t]*"
/*
 * Values that are not secrets but words of a message ("token: expired",
 * "using password: YES", "password=${DB_PASS}") or paths to a key file:
 * left alone, they keep what the error says.
 */
#define NOT_A_VALUE                                                                               \
	"(?!(?i:none|null|nil|<nil>|\\(null\\)|\\(none\\)|empty|true|false|yes|no|not|n/a|unset|" \
	"undefined|missing|invalid|expired|required|incorrect|wrong|changed|mismatch|failed|"     \
	"failure|error|unable|cannot|could|exit|context|is|was|has|for|from|to|in|of|on|the|a|"   \
	"an|with|timeout|eof|unauthorized|forbidden|denied|rejected|refused|unknown|ok|set|"      \
	"found|ignored|disabled|enabled|oauth2|x509|rpc|status|requires|must|should|needs|"       \
	"expects|"                                                                                \
	"chauthtok|\\*+|x{3,}|%s|%v|\\{\\}|"                                                      \
	"<[A-Za-z_ -]{1,32}>|\\$\\{?[A-Za-z_][A-Za-z0-9_]*\\}?|(?:/[A-Za-z0-9._-]+){2,})"         \
	"(?:[\\s,;&)}\"'.]|\\z))(?![1-5][0-9]{2} [A-Z][a-z])"
/* An unquoted value: up to a blank or , ; & ) } " ' (a backslash not before a quote is kept). */
#define VALUE "(?=[^\\s\"'])(?:[^\\s,;&)}\"'\\\\]|\\\\(?![\"']))++"
/* A flag starts an argument: after a blank, a quote or '=' (audit's a3="-pX"). */
#define FLAG "(?<![^ \\t\"'=\\n])"
/* A command-line value: quoted, or up to a blank; never the next option. */
#define ARG "(?:\"\\K[^\"\\n]*+|'\\K[^'\\n]*+|\\K(?!-)[^\\s\"']++)"

const RedactRule redact_rules[] = {
	/* --- Private keys in armour: any PEM label but public ones, PGP, SSH2, PuTTY. */
	{"private-key-block", "begin", "-{4,5} ?BEGIN " LABEL, redact_check_block_forward, NULL},
	{"private-key-end", "end", "-{4,5} ?END " LABEL, redact_check_block_backward, NULL},
	{"putty-key", "putty-user-key-file|private-lines",
	 "PuTTY-User-Key-File-[0-9]+:|Private-Lines:[ \\t]*[0-9]+", redact_check_block_forward,
	 NULL},
	{"putty-mac", "private-mac|private-hash", "Private-(?:MAC|Hash):[ \\t]*[0-9a-fA-F]*",
	 redact_check_block_backward, NULL},

	/* --- URL userinfo: everything before the authority's last '@'. */
	/*
	 * A password holding / ? or # (a parser would stop there; the host
	 * tells). It never spans another "://" (a URL in a URL has its own
	 * match) nor a marker: else each pass would peel one more scheme off
	 * "a://b://c://u:p@host" and redacting twice would change the text.
	 */
	{"url-userinfo-wide", "://",
	 SCHEME "\\K[^\\s/?#@:\"'<>]{1,256}:(?:(?!://"
		"|\\[REDACTED\\])[^\\s\"'<>]){0,256}?(?=@(?:\\[[0-9A-Fa-f:.]+"
		"\\]|[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)+|[A-Za-z0-9_-]+:[0-9]+)(?::[0-9]+)?(?:[/?#"
		"\\s\"'<>]|\\z))",
	 NULL, NULL},
	{"url-userinfo", "://", SCHEME "\\K[^\\s/?#\"'<>]{0,512}(?=@)", NULL, NULL},
	/* Cut after "user:" at the end of one line, "@host" on the next. */
	{"url-userinfo-split", "://",
	 SCHEME "[^\\s/?#@:\"'<>]{1,256}:\\K[^\\s@\"'<>]{0,256}\\n" CTX "[^\\s@\"'<>]{1,256}(?=@)",
	 NULL, NULL},
	/* Cut after "user:pa": no '@' yet, only the end of the line (not a port). */
	{"url-userinfo-cut", "://",
	 SCHEME
	 "[^\\s/?#@:\"'<>]{1,256}:\\K(?![0-9]{1,5}(?:[/?#\\s\"'<>]|\\z))[^\\s/@\"'<>]{1,256}" EOL,
	 NULL, NULL},

	/* --- HTTP and mail authentication. */
	/* Authorization: [scheme] credential; the scheme word stays. Digest has its own row. */
	{"authorization", "authorization",
	 "(?i)" B
	 "[A-Za-z0-9_.-]{0,64}?authorization(?:\\\\?[\"'])?[ \\t]*[:=][ \\t]*(?:\\\\?[\"'])?"
	 "(?>(?:(?:bearer|basic|token|negotiate|ntlm|bot|apikey|sso-key|key)[ \\t]+)?)(?!digest[ "
	 "\\t])\\K[^\\s,;&)\"'\\\\:=][^\\s,;&)\"'\\\\]*+",
	 NULL, NULL},
	{"bearer", "bearer",
	 "(?i)" B "bearer[ \\t:]+\\K(?:[A-Za-z0-9._~+/=-]{16,}+|[A-Za-z0-9._~+/=-]{8,}+" EOL ")",
	 NULL, NULL},
	/* Basic outside a header: what follows decodes to user:password. */
	{"basic", "basic",
	 "(?i)" B
	 "basic[ \\t]+(?:auth(?:entication)?[ \\t]+|credentials?[ \\t]+)?\\K[A-Za-z0-9+/]{4,}+={0,"
	 "2}",
	 redact_check_basic, NULL},
	/* Digest: the response (a hash of the password), after "Digest" on its line. */
	{"digest-response", "digest", "(?i)" B "response[ \\t]*=[ \\t]*\"?\\K[0-9a-f]{16,128}",
	 NULL, "digest"},
	{"ntlm", "tlrmtvntua", "TlRMTVNTUA[A-Za-z0-9+/]*+={0,2}", NULL, NULL},
	{"negotiate", "negotiate", "(?i)" B "negotiate[ \\t]+\\K[A-Za-z0-9+/]{16,}+={0,2}", NULL,
	 NULL},
	{"smtp-auth", "auth",
	 "(?i)" B "auth[ \\t]+(?:plain|login|xoauth2|oauthbearer|cram-md5|digest-md5|ntlm|scram-"
	 "sha-1|scram-sha-256)[ \\t]+\\K[A-Za-z0-9+/]++={0,2}",
	 redact_check_base64, NULL},
	/* AUTH LOGIN: after the server's "Password:" (base64), the client's answer. */
	{"smtp-auth-password", "ugfzc3dvcmq6",
	 "UGFzc3dvcmQ6[^\\n]{0,32}?(?:\\n" CTX ")?[^\\n]{0,32}?(?<![A-Za-z0-9+/=])\\K[A-Za-z0-9+/"
	 "]{8,}+={0,2}(?![A-Za-z0-9+/=])",
	 redact_check_base64, NULL},
	{"imap-login", "login", "(?i)" B "login[ \\t]+\"[^\"\\n]{0,256}\"[ \\t]+\"\\K[^\"\\n]+",
	 NULL, NULL},
	/* Redis AUTH as MONITOR and the slow log print it. */
	{"redis-auth", "auth", "(?i)\"auth\"[ \\t]+(?:\"[^\"\\n]{0,256}\"[ \\t]+)?\"\\K[^\"\\n]+",
	 NULL, NULL},

	/* --- Vendor token shapes: known prefixes, matched cut or whole. */
	{"aws-access-key-id", "akia|asia|abia|acca|agpa|aida|aroa|aipa|anpa|anva|apka|a3t",
	 B "(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])(?:[A-Z0-9]{16}" E
	   "|[A-Z0-9]{8,15}" EOL ")",
	 NULL, NULL},
	{"jwt", "eyj", B "eyJ[A-Za-z0-9_-]{8,}+(?:\\.[A-Za-z0-9_-]*+){0,4}", NULL, NULL},
	{"github", "ghp_|gho_|ghu_|ghs_|ghr_|github_pat_",
	 "(?:" TOKEN("gh[pousr]_", "[A-Za-z0-9]", 36) "|" TOKEN("github_pat_", "[A-Za-z0-9_]",
								22) ")",
	 NULL, NULL},
	{"gitlab", "glpat-|glptt-|glrt-|gldt-|glcbt-|glft-|glimt-|glagent-|gloas-|glsoat-",
	 TOKEN("gl(?:pat|ptt|rt|dt|cbt|ft|imt|agent|oas|soat)-", "[A-Za-z0-9_-]", 20), NULL, NULL},
	{"slack-token", "xox|xapp-",
	 B "(?:xox[abpreso]-|xoxe\\.xox[bp]-|xapp-[0-9]-)[A-Za-z0-9-]{8,}+", NULL, NULL},
	{"slack-webhook", "hooks.slack.com",
	 "hooks\\.slack\\.com/(?:services|workflows|triggers)/\\K[A-Za-z0-9_/-]{8,}+", NULL, NULL},
	{"discord-webhook", "discord",
	 "(?i)discord(?:app)?\\.com/api/webhooks/\\K[0-9]{5,}+/[A-Za-z0-9_-]{8,}+", NULL, NULL},
	{"discord-bot-token", NULL,
	 B "[MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38}" E,
	 redact_check_mixed, NULL},
	{"google-api-key", "aiza", TOKEN("AIza", "[0-9A-Za-z_-]", 35), NULL, NULL},
	{"google-oauth", "ya29.|gocspx-|1//0",
	 "(?:" TOKEN("ya29\\.", "[0-9A-Za-z_-]", 20) "|" TOKEN(
		 "GOCSPX-", "[0-9A-Za-z_-]", 20) "|" TOKEN("1//0", "[0-9A-Za-z_-]", 20) ")",
	 NULL, NULL},
	{"openai-anthropic", "sk-",
	 TOKEN("sk-(?:proj-|svcacct-|admin-|or-v1-|ant-(?:api|admin)[0-9]{2}-|ant-)?",
	       "[A-Za-z0-9_-]", 20),
	 NULL, NULL},
	{"stripe", "_live_|_test_|_prod_|whsec_",
	 "(?:" TOKEN("(?:sk|rk)_(?:live|test|prod)_", "[A-Za-z0-9]",
		     10) "|" TOKEN("whsec_", "[A-Za-z0-9]", 20) ")",
	 NULL, NULL},
	/* Short prefixes: whole, or 16 characters at a cut (shorter is too common). */
	{"twilio-api-key", "sk", B "SK(?:[0-9a-fA-F]{32}" E "|[0-9a-fA-F]{16,31}" EOL ")", NULL,
	 NULL},
	{"sendgrid", "sg.",
	 B "SG\\.(?:[A-Za-z0-9_-]{16,}+\\.[A-Za-z0-9_-]{16,}+|[A-Za-z0-9_-]{8,}+(?:\\.[A-Za-z0-9_"
	   "-]*+)?" EOL ")",
	 NULL, NULL},
	{"mailgun", "key-", B "key-(?:[0-9a-f]{32}" E "|[0-9a-f]{16,31}" EOL ")", NULL, NULL},
	{"mailchimp", "-us", B "[0-9a-f]{32}-us[0-9]{1,2}" E, NULL, NULL},
	{"huggingface", "hf_|api_org_", TOKEN("(?:hf_|api_org_)", "[A-Za-z0-9]", 30), NULL, NULL},
	{"vault", "hvs.|hvb.|hvr.", TOKEN("hv[sbr]\\.", "[A-Za-z0-9_-]", 20), NULL, NULL},
	{"vault-legacy", "s.", B "s\\.[A-Za-z0-9]{24}" E, redact_check_mixed, NULL},
	{"npm", "npm_", TOKEN("npm_", "[A-Za-z0-9]", 36), NULL, NULL},
	{"pypi", "pypi-", TOKEN("pypi-AgE", "[A-Za-z0-9_-]", 40), NULL, NULL},
	{"docker-hub", "dckr_pat_|dckr_oat_", TOKEN("dckr_(?:pat|oat)_", "[A-Za-z0-9_-]", 20), NULL,
	 NULL},
	{"digitalocean", "_v1_", TOKEN("do[opr]_v1_", "[a-f0-9]", 64), NULL, NULL},
	{"shopify", "shp", TOKEN("shp(?:at|ca|pa|ss)_", "[a-fA-F0-9]", 32), NULL, NULL},
	{"atlassian", "atatt3", TOKEN("ATATT3", "[A-Za-z0-9_=-]", 40), NULL, NULL},
	{"postman", "pmak-", B "PMAK-[a-f0-9]{24}-[a-f0-9]{8,}+", NULL, NULL},
	{"terraform", "atlasv1", B "[a-z0-9]{14}\\.atlasv1\\.[a-z0-9_=-]{8,}+", NULL, NULL},
	{"telegram-bot", ":aa", B "[0-9]{8,10}:AA[A-Za-z0-9_-]{30,}+", NULL, NULL},
	{"age-secret-key", "age-secret-key-1", "AGE-SECRET-KEY-1[0-9A-Z]{8,}+", NULL, NULL},
	{"azure-ad-secret", "q~",
	 "(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}+", NULL, NULL},
	{"azure-sas", "sharedaccesssignature",
	 "(?i)" B "SharedAccessSignature[ \\t]*[=:]?[ \\t]*\\K[^;\\s\"']+", NULL, NULL},
	{"1password", "ops_eyj", TOKEN("ops_eyJ", "[A-Za-z0-9+/]", 50), NULL, NULL},
	{"databricks", "dapi", B "dapi(?:[a-f0-9]{32}(?:-[0-9])?" E "|[a-f0-9]{16,31}" EOL ")",
	 NULL, NULL},
	{"linear", "lin_api_", TOKEN("lin_api_", "[A-Za-z0-9]", 40), NULL, NULL},
	{"notion", "secret_|ntn_",
	 "(?:" TOKEN("secret_", "[A-Za-z0-9]", 43) "|" TOKEN("ntn_", "[A-Za-z0-9]", 40) ")", NULL,
	 NULL},
	{"doppler", "dp.",
	 TOKEN("dp\\.(?:pt|st|sa|ct|scim|audit)\\.(?:[a-z0-9_-]{1,32}\\.)?", "[A-Za-z0-9]", 40),
	 NULL, NULL},
	{"newrelic", "nrak-", TOKEN("NRAK-", "[A-Z0-9]", 27), NULL, NULL},
	{"grafana", "glc_|glsa_",
	 "(?:" TOKEN("glc_", "[A-Za-z0-9+/=]", 32) "|" TOKEN("glsa_", "[A-Za-z0-9_]", 32) ")", NULL,
	 NULL},
	{"docker-swarm", "swmtkn-", TOKEN("SWMTKN-1-", "[a-z0-9-]", 40), NULL, NULL},
	{"square", "sq0atp-|sq0csp-|eaaa",
	 "(?:" TOKEN("sq0(?:atp|csp)-", "[A-Za-z0-9_-]", 22) "|" TOKEN("EAAA", "[A-Za-z0-9_-]",
								       60) ")",
	 NULL, NULL},
	{"artifactory", "akcp", TOKEN("AKCp", "[A-Za-z0-9]", 60), NULL, NULL},
	{"alibaba", "ltai", TOKEN("LTAI", "[A-Za-z0-9]", 16), NULL, NULL},
	{"cloudflare-origin-ca", "v1.0-", B "v1\\.0-[a-f0-9]{24}-[a-f0-9]{8,}+", NULL, NULL},
	/* crypt(3) hashes, as in a shadow line or useradd -p: a password to crack. */
	{"crypt-hash", "$",
	 "\\$(?:1|2[abxy]?|5|6|7|y|gy|apr1|sha1|md5|argon2(?:id|i|d)|scrypt|pbkdf2[A-Za-z0-9-]*)\\$"
	 "[^"
	 "\\s:'\"]{8,}+",
	 NULL, NULL},

	/*
	 * --- Passwords on command lines: the flags that take one, after their
	 * program (the row's context) on the same line, each flag of a line.
	 */
	{"cli-mysql", "mysql|mariadb",
	 FLAG "-p(?:\"\\K[^\"\\n]*+|'\\K[^'\\n]*+|\\K[^\\s\"'-][^\\s\"']*+)", NULL,
	 "mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlslap|mysqlpump|mysqlsh|"
	 "mariadb|mariadb-dump|mariadb-admin|mariadb-import|mariadb-check|mariadb-show"},
	{"cli-mysqladmin-password", "mysqladmin|mariadb-admin", "[ \\t]password[ \\t]+" ARG, NULL,
	 "mysqladmin|mariadb-admin"},
	{"cli-sshpass", "sshpass", FLAG "-p[ \\t]*+" ARG, NULL, "sshpass"},
	{"cli-redis", "redis-cli", FLAG "(?:-a|--pass)[ \\t]++" ARG, NULL, "redis-cli"},
	{"cli-ldap", "ldap", FLAG "-w[ \\t]*+" ARG, NULL,
	 "ldapsearch|ldapadd|ldapmodify|ldapdelete|ldapmodrdn|ldappasswd|ldapcompare|ldapwhoami|"
	 "ldapexop|ldapurl"},
	{"cli-ldappasswd", "ldappasswd", FLAG "-[as][ \\t]*+" ARG, NULL, "ldappasswd"},
	{"cli-registry-login", "login", FLAG "(?:-p|--password)(?:=|[ \\t]++)" ARG, NULL,
	 "docker login|podman login|nerdctl login|buildah login|skopeo login|registry login|oras "
	 "login|crane auth login"},
	{"cli-curl-user", "curl",
	 FLAG "(?:-u|--user|-U|--proxy-user)(?:=|[ \\t]*+)[\"']?[^\\s:\"']*+:\\K[^\\s\"']+", NULL,
	 "curl"},
	{"cli-htpasswd", "htpasswd",
	 B "htpasswd(?=(?:[ \\t]+-[A-Za-z]+)*?[ \\t]+-[A-Za-z]*b)(?:(?=(?:[ \\t]+-[A-Za-z]+)*?[ "
	   "\\t]+-[A-Za-z]*n)(?:[ \\t]+-[A-Za-z]+)++[ \\t]+[^\\s-][^\\s]*+[ \\t]+|(?:[ \\t]+-[A-Za-"
	   "z]+)++[ \\t]+[^\\s-][^\\s]*+[ \\t]+[^\\s-][^\\s]*+[ \\t]+)" ARG,
	 NULL, NULL},
	{"cli-mongo", "mongo", FLAG "(?:-p|--password)(?:=|[ \\t]++)" ARG, NULL,
	 "mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop|"
	 "mongofiles"},
	{"cli-sql-p", "sqlcmd|bcp|osql|isql|ipmitool", FLAG "-P[ \\t]*+" ARG, NULL,
	 "sqlcmd|bcp|osql|isql|ipmitool"},
	{"cli-archive", "7z|rar", FLAG "-p\\K[^\\s\"'-][^\\s\"']*+", NULL,
	 "7z|7za|7zr|7zz|rar|unrar"},
	{"cli-zip", "zip", FLAG "-P[ \\t]++" ARG, NULL, "zip|unzip|zipcloak"},
	{"cli-openssl-k", "openssl", FLAG "-k[ \\t]++" ARG, NULL, "openssl"},
	{"cli-sshkeygen", "ssh-keygen", FLAG "-[NP][ \\t]++" ARG, NULL, "ssh-keygen"},
	/* sqlplus user/password[@db]; CONNECT user/password@db (not "connect 10.0.0.0/8"). */
	{"cli-sqlplus", "sqlplus|conn",
	 "(?i)(?:" B "sqlplus(?:[ \\t]+-[A-Za-z]+)*[ \\t]+[A-Za-z0-9_$#.]+/\\K[^@\\s/\"']+|" B
	 "conn(?:ect)?[ \\t]+[A-Za-z_][A-Za-z0-9_$#]*/\\K[^@\\s/\"']+(?=@))",
	 NULL, NULL},
	{"cli-smbclient", "smbclient|rpcclient|smbcacls|smbget|smbmap",
	 FLAG "(?:-U|--user)(?:=|[ \\t]*+)[\"']?[^%\\s\"']++%\\K[^\\s\"']+", NULL,
	 "smbclient|rpcclient|smbcacls|smbget|smbmap"},
	{"cli-freerdp", "freerdp", FLAG "/p:" ARG, NULL,
	 "xfreerdp|xfreerdp3|wlfreerdp|sdl-freerdp|sdl-freerdp3|freerdp"},
	{"cli-rabbitmqctl", "rabbitmqctl",
	 B "(?:add_user|change_password|authenticate_user)[ \\t]+[^\\s]+[ \\t]+" ARG, NULL,
	 "rabbitmqctl"},
	{"cli-chpasswd", "chpasswd",
	 "[\"']?[A-Za-z0-9_.-]{1,64}:\\K[^\\s:\"']{1,256}(?=[\"']?[ \\t]*\\|[ \\t]*(?:sudo[ "
	 "\\t]+)?chpasswd)",
	 NULL, NULL},
	{"cli-useradd", "useradd|usermod", FLAG "(?:-p|--password)[ \\t]++" ARG, NULL,
	 "useradd|usermod"},
	{"cli-wpa-passphrase", "wpa_passphrase", B "wpa_passphrase[ \\t]+[^\\s]+[ \\t]+" ARG, NULL,
	 NULL},
	{"cli-nmcli", "nmcli", "[ \\t](?:password|wifi-sec\\.psk|802-1x\\.password|psk)[ \\t]+" ARG,
	 NULL, "nmcli"},
	{"redis-requirepass", "requirepass|masterauth",
	 "(?i)" B "(?:requirepass|masterauth)[ \\t]+" ARG, NULL, NULL},
	/* --password VALUE, -storepass VALUE: an option whose name ends in a secret's. */
	{"cli-option", "pass|pwd|token|secret|key",
	 "(?i)" B
	 "--?(?!(?:no|ask)-)(?:[A-Za-z0-9]+[-_]){0,8}(?:password|passwd|passphrase|pass|pwd|"
	 "token|secret|api-?key|access-?key|secret-?key|(?:src|dest|new|old)?(?:store|key)pass|"
	 "pass(?:in|out))[ \\t]++" NOT_A_VALUE "(?!(?:env|file|fd|stdin)(?::|" E "))(?:pass:)?" ARG,
	 NULL, NULL},
	/* netrc: machine HOST login USER password SECRET. */
	{"netrc", "login", "(?i)" B "login[ \\t]+[^\\s]+[ \\t]+password[ \\t]+" ARG, NULL, NULL},
	/* SQL: IDENTIFIED BY 'x', PASSWORD 'x', SET PASSWORD = 'x'. */
	{"sql-password", "identified|password",
	 "(?i)(?:" B
	 "identified[ \\t]+(?:with[ \\t]+[A-Za-z0-9_]+[ \\t]+)?by(?:[ \\t]+password)?|" B
	 "password(?:[ \\t]*\\(|[ \\t]*=|[ \\t]+))[ \\t]*[\"']\\K[^\"'\\n]+",
	 NULL, NULL},

	/* --- Query parameters and cookies that carry credentials or sessions. */
	{"query-credential", "sig|credential|token|key|auth|secret|pass|pwd|sess|jwt|hmac|otp",
	 "(?i)[?&;](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-"
	 "signature|x-goog-credential|x-goog-security-token|key|api[_-]?key|auth|auth[_-]?key|auth["
	 "_-]?token|token|access[_-]?token|id[_-]?token|refresh[_-]?token|client[_-]?secret|secret|"
	 "password|passwd|pwd|pass|session[_-]?id|sessionid|session[_-]?token|phpsessid|jsessionid|"
	 "jwt|private[_-]?token|api[_-]?token|access[_-]?key|secret[_-]?key|hmac|otp)=\\K[^&;\\s#"
	 "\"'<>]+",
	 NULL, NULL},
	{"query-code", "code=|ticket=|sid=|session=",
	 "(?i)[?&;](?:code|ticket|sid|session)=\\K[^&;\\s#\"'<>]{8,}+", NULL, NULL},
	{"cookie-header", "cookie", "(?i)" B "(?:set-)?cookie[ \\t]*:[ \\t]*\\K[^\\r\\n]+", NULL,
	 NULL},
	{"session-cookie", "sess|sid|remember|csrf|xsrf",
	 "(?i)" B "(?:phpsessid|jsessionid|asp\\.net_sessionid|aspsessionid[a-z]{0,16}|sessionid|"
	 "session[_-]id|sessid|connect\\.sid|laravel_session|ci_session|_[a-z0-9_]{0,32}_session|"
	 "rack\\.session|remember_[a-z_]{0,32}|_csrf|csrftoken|xsrf-token|session)(?:\\\\?[\"'])?[ "
	 "\\t]*[=:][ \\t]*(?:\\\\?[\"'])?\\K(?!<)[^;\\s&\"',)\\\\]{12,}+",
	 NULL, NULL},

	/* --- name = value pairs: config lines, environments, JSON, YAML, XML, forms. */
	{"key-value-dquote", NAME_WORDS, "(?i)" NAME SEP "\"\\K(?:[^\"\\\\\\n]++|\\\\[^\\n])++",
	 NULL, NULL},
	{"key-value-squote", NAME_WORDS, "(?i)" NAME SEP "'\\K(?:[^'\\\\\\n]++|\\\\[^\\n])++", NULL,
	 NULL},
	{"key-value-jsonesc", NAME_WORDS, "(?i)" NAME SEP "\\\\\"\\K(?:[^\"\\\\\\n]|\\\\(?!\"))++",
	 NULL, NULL},
	{"key-value", NAME_WORDS, "(?i)" NAME SEP NOT_A_VALUE "\\K" VALUE, NULL, NULL},
	/* "password:" ends one line, the value is the next line (two journal entries). */
	{"key-value-split", NAME_WORDS,
	 "(?i)" NAME "(?:\\\\?[\"'])?[ \\t]*" SEPARATOR "[ \\t]*\\n" CTX "[ \\t]*\\K[^\\n]+", NULL,
	 NULL},
	{"key-value-xml", NAME_WORDS,
	 "(?i)<[A-Za-z0-9_.:-]{0,64}?" SECRET_NAME ">\\K[^<\\n]{1,4096}+(?=</)", NULL, NULL},
	{"key-value-urlencoded", "%3d", "(?i)" NAME "%3D\\K(?:[^&\\s%]|%(?!26)[0-9A-Fa-f]{2})++",
	 NULL, NULL},

	/* --- Last: tokens no rule above knows, by their shape and entropy. */
	{"aws-secret-key", NULL, "(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/_=-])",
	 redact_check_aws_secret, NULL},
	{"high-entropy", NULL, "(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}+={0,2}",
	 redact_check_entropy, NULL},
};

const size_t redact_n_rules = ELEMENTSOF(redact_rules);
