/* xgboost_error.c - error text for the xgboost plugin (xgboost_error.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "xgboost_error.h"

/* Skip "[15:16:45] ", a level ("WARNING: ") and then
 * "./src/learner.cc:123: " when present. */
static const char *xgboost_err_body(const char *s)
{
	static const char *const levels[] = { "WARNING: ", "INFO: ",
		"DEBUG: " };
	const char *p;

	if (s[0] == '[' && (p = strstr(s, "] ")) != NULL && p - s < 32)
		s = p + 2;
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (strncmp(s, levels[i], strlen(levels[i])) == 0)
			s += strlen(levels[i]);
	p = s;
	while (*p != '\0' && *p != ' ' && *p != ':' && *p != '\n')
		p++;
	if (*p == ':' && isdigit((unsigned char)p[1])) {
		const char *q = p + 1;

		while (isdigit((unsigned char)*q))
			q++;
		if (q[0] == ':' && (q[1] == ' ' || q[1] == '\n'))
			s = q + 1;
	}
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

void xgboost_err_last(char *err, size_t errlen, const char *what)
{
	const char *msg = XGBGetLastError();
	size_t len;

	if (msg == NULL || msg[0] == '\0')
		msg = "XGBoost gave no reason";
	msg = xgboost_err_body(msg);
	len = strcspn(msg, "\n");
	/* "Check failed: a == b (1 vs. 2) : " ends in a colon when the check
	 * has no message of its own. */
	while (len > 0 && (isspace((unsigned char)msg[len - 1]) ||
	    msg[len - 1] == ':'))
		len--;
	corral_errf(err, errlen, "%s: %.*s", what, (int)len, msg);
}

void xgboost_log_line(char *out, size_t n, const char *msg)
{
	size_t len = 0;

	if (n == 0)
		return;
	for (msg = xgboost_err_body(msg); *msg != '\0' && len + 1 < n; msg++)
		out[len++] = *msg == '\n' || *msg == '\r' ? ' ' : *msg;
	while (len > 0 && isspace((unsigned char)out[len - 1]))
		len--;
	out[len] = '\0';
}
