/*
 * corral-worker - one model version in one confined process.
 *
 *   corral-worker --plugin PATH --model NAME --version N --dir DIR
 *                 --connect URL --parent PID [--report-fd FD]
 *                 [--max-reply-bytes N] [--param KEY=VALUE]...
 *                 [--uid N --gid N] [--ro PATH]... [--cpu-seconds N]
 *                 [--address-space BYTES] [--open-files N]
 *   corral-worker --print-policy 1|2 [--plugin PATH]
 *
 * Started only by corrald (fork + exec). Order matters: the sandbox layers
 * up to the stage-1 seccomp filter go on first (sandbox.h), so the plugin's
 * constructors already run confined; the plugin is then loaded and the
 * model read (file access is still possible, read-only, inside the private
 * view); the connection to the daemon is made; then the serving filter is
 * applied to every thread, and only then is the first request read.
 *
 * --print-policy writes a seccomp stage in readable form (with the
 * plugin's extra syscalls, and 4242 as the worker's own pid), for review.
 */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "plugin_host.h"
#include "sandbox.h"
#include "seccomp_policy.h"
#include "serve.h"
#include "worker_exit.h"

#define MAX_PARAMS 64
#define MAX_RO_PATHS 256
/* The pid the printed policy shows in its "signals only to itself" rule. */
#define PRINTED_SELF_PID 4242

struct worker_args {
	const char *plugin, *model, *dir, *url;
	int64_t version;
	long parent;
	size_t max_reply;
	corral_param params[MAX_PARAMS];
	size_t n_params;
	sandbox_spec sandbox;
	const char *ro_paths[MAX_RO_PATHS];
	int print_policy;
};

static char worker_label[160] = "corral-worker";
static int report_fd = -1;

/* Say why we cannot serve, on stderr and to the daemon's report pipe (so
 * `models` and error replies can name the reason), then end. */
static void die(int code, const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s: %s\n", worker_label, what, detail);
	if (report_fd >= 0)
		dprintf(report_fd, "%s: %s", what, detail);
	_exit(code);
}

static void parse_args(int argc, char **argv, struct worker_args *a)
{
	static const struct option opts[] = {
		{"plugin", required_argument, NULL, 'p'},
		{"model", required_argument, NULL, 'm'},
		{"version", required_argument, NULL, 'v'},
		{"dir", required_argument, NULL, 'd'},
		{"connect", required_argument, NULL, 'c'},
		{"parent", required_argument, NULL, 'P'},
		{"param", required_argument, NULL, 'k'},
		{"report-fd", required_argument, NULL, 'r'},
		{"max-reply-bytes", required_argument, NULL, 'R'},
		{"uid", required_argument, NULL, 'u'},
		{"gid", required_argument, NULL, 'g'},
		{"ro", required_argument, NULL, 'o'},
		{"cpu-seconds", required_argument, NULL, 'C'},
		{"address-space", required_argument, NULL, 'A'},
		{"open-files", required_argument, NULL, 'F'},
		{"print-policy", required_argument, NULL, 'X'},
		{NULL, 0, NULL, 0},
	};
	sandbox_spec *sb = &a->sandbox;
	sb->ro_paths = a->ro_paths;
	sb->open_files = 64;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': a->plugin = optarg; break;
		case 'm': a->model = optarg; break;
		case 'v': a->version = strtoll(optarg, NULL, 10); break;
		case 'd': a->dir = optarg; break;
		case 'c': a->url = optarg; break;
		case 'P': a->parent = strtol(optarg, NULL, 10); break;
		case 'r': report_fd = (int)strtol(optarg, NULL, 10); break;
		case 'R': a->max_reply = strtoull(optarg, NULL, 10); break;
		case 'u': sb->uid = (uid_t)strtoul(optarg, NULL, 10); sb->set_identity = true; break;
		case 'g': sb->gid = (gid_t)strtoul(optarg, NULL, 10); break;
		case 'C': sb->cpu_seconds = strtoull(optarg, NULL, 10); break;
		case 'A': sb->address_space = strtoull(optarg, NULL, 10); break;
		case 'F': sb->open_files = strtoull(optarg, NULL, 10); break;
		case 'X': a->print_policy = atoi(optarg); break;
		case 'o':
			if (sb->n_ro_paths == MAX_RO_PATHS)
				die(WORKER_EXIT_USAGE, "too many --ro paths", optarg);
			a->ro_paths[sb->n_ro_paths++] = optarg;
			break;
		case 'k': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || a->n_params == MAX_PARAMS)
				die(WORKER_EXIT_USAGE, "bad --param", optarg);
			*eq = '\0';
			a->params[a->n_params++] = (corral_param){optarg, eq + 1};
			break;
		}
		default: die(WORKER_EXIT_USAGE, "usage", "unknown option");
		}
	}
	if (a->print_policy != 0 && a->print_policy != 1 && a->print_policy != 2)
		die(WORKER_EXIT_USAGE, "usage", "--print-policy takes 1 or 2");
	if (a->print_policy)
		return;
	if (!a->plugin || !a->model || !a->dir || !a->url || a->version <= 0)
		die(WORKER_EXIT_USAGE, "usage",
		    "--plugin, --model, --version, --dir and --connect are required");
}

/* The daemon is our only reason to exist: when its connection goes, so do
 * we (the confined process could not reconnect anyway). */
static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	_exit(WORKER_EXIT_OK);
}

/* Labels name the entries of the last dimension: as many as it holds when
 * it is fixed, and only for tensors that have a dimension. */
static bool labels_fit(const corral_tensor_spec *s)
{
	if (s->ndim == 0)
		return false;
	int64_t n = 0;
	while (s->labels[n] != NULL && n <= 1000000)
		n++;
	int64_t last = s->shape[s->ndim - 1];
	return n <= 1000000 && (last < 0 || last == n);
}

static void check_signature(const corral_signature *sig)
{
	const corral_tensor_spec *all[2] = {sig->inputs, sig->outputs};
	size_t counts[2] = {sig->n_inputs, sig->n_outputs};
	for (int k = 0; k < 2; k++) {
		if (counts[k] > 64 || (counts[k] > 0 && all[k] == NULL))
			die(WORKER_EXIT_LOAD, "describe", "bad signature counts");
		for (size_t i = 0; i < counts[k]; i++) {
			const corral_tensor_spec *s = &all[k][i];
			if (s->name == NULL || corral_dtype_name(s->dtype) == NULL ||
			    s->ndim > CORRAL_MAX_DIMS || (s->ndim && s->shape == NULL))
				die(WORKER_EXIT_LOAD, "describe",
				    "a tensor spec has no name, a bad datatype or a bad shape");
			if (s->labels != NULL && !labels_fit(s))
				die(WORKER_EXIT_LOAD, "describe",
				    "a tensor spec's labels do not match its last dimension");
		}
	}
}

/* In a sanitizer build, no leak check at exit: LeakSanitizer stops the
 * process's threads with ptrace and reads /proc, which the sandbox refuses
 * (the check would turn a clean exit into a violation). Never called in a
 * plain build. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

/* One line for the daemon's log (it relays our stderr): which layers
 * hold, and why any is off. */
static void log_layers(const sandbox_report *r)
{
	char line[2048];
	size_t at = (size_t)snprintf(line, sizeof line, "%s: sandbox:", worker_label);
	for (int l = 0; l < SANDBOX_N_LAYERS && at < sizeof line; l++) {
		bool on = strncmp(r->layer[l], "on", 2) == 0;
		at += (size_t)snprintf(line + at, sizeof line - at, " %s %s%s%s;",
		    sandbox_layer_name(l), on ? "on" : "OFF", on ? "" : " - ",
		    on ? "" : r->layer[l] + 5);
	}
	fprintf(stderr, "%s\n", line);
}

/* --print-policy: the compiled filter, for review and the policy tests. */
static int print_policy(const struct worker_args *a)
{
	char err[512] = "";
	const char *const *extra = NULL;
	if (a->plugin != NULL) {
		const corral_plugin *plugin = plugin_open(a->plugin, err, sizeof err);
		if (plugin == NULL)
			die(WORKER_EXIT_PLUGIN, a->plugin, err);
		extra = plugin->extra_syscalls;
	}
	if (sandbox_export_policy(a->print_policy, extra, PRINTED_SELF_PID,
		STDOUT_FILENO, err, sizeof err) != 0)
		die(WORKER_EXIT_CONFINE, "policy", err);
	return 0;
}

int main(int argc, char **argv)
{
	/* Die with the daemon; if it is already gone, do not start at all. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct worker_args a = {0};
	parse_args(argc, argv, &a);
	if (a.print_policy)
		return print_policy(&a);
	if (a.parent > 0 && getppid() != (pid_t)a.parent)
		die(WORKER_EXIT_OK, "start", "the daemon is gone");
	snprintf(worker_label, sizeof worker_label, "corral-worker[%d] %s/%lld",
	    (int)getpid(), a.model, (long long)a.version);

	char err[512] = "";
	static sandbox_report layers;
	a.sandbox.keep_fd_max = report_fd > STDERR_FILENO ? report_fd : STDERR_FILENO;
	a.sandbox.parent = (pid_t)a.parent;
	if (sandbox_enter(&a.sandbox, report_fd, WORKER_EXIT_VIOLATION, &layers, err,
		sizeof err) != 0)
		die(WORKER_EXIT_CONFINE, "confinement failed, not serving", err);

	const corral_plugin *plugin = plugin_open(a.plugin, err, sizeof err);
	if (plugin == NULL)
		die(WORKER_EXIT_PLUGIN, a.plugin, err);

	worker_model m = {.plugin = plugin, .sandbox = &layers};
	corral_load_args load = {
	    .struct_size = sizeof load, .model_name = a.model,
	    .model_version = a.version, .version_dir = a.dir,
	    .params = a.params, .n_params = a.n_params};
	if (plugin->load(&worker_host_api, &load, &m.handle, err, sizeof err) != 0)
		die(WORKER_EXIT_LOAD, "load", err[0] ? err : "the plugin gave no reason");
	if (plugin->describe(m.handle, &m.sig, err, sizeof err) != 0)
		die(WORKER_EXIT_LOAD, "describe", err[0] ? err : "the plugin gave no reason");
	check_signature(&m.sig);

	nng_socket sock;
	int rv;
	if ((rv = nng_rep0_open(&sock)) != 0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe_removed, NULL)) != 0 ||
	    (rv = nng_dial(sock, a.url, NULL, 0)) != 0)
		die(WORKER_EXIT_CONNECT, a.url, nng_strerror(rv));

	if (sandbox_apply_serving_policy(plugin->extra_syscalls, err, sizeof err) != 0)
		die(WORKER_EXIT_CONFINE, "confinement failed, not serving", err);
	snprintf(layers.layer[SANDBOX_SECCOMP], sizeof layers.layer[0],
	    "on: stage 1 (denylist) before the plugin, stage 2 (allowlist) serving");
	log_layers(&layers);

	if (worker_serve(sock, &m, a.max_reply) != 0)
		_exit(WORKER_EXIT_SERVE);
	_exit(WORKER_EXIT_OK);
}
