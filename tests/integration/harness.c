/* harness.c - a real corrald for integration tests (harness.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

long long harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void harness_die(harness *h, const char *what)
{
	fprintf(stderr, "harness: %s (%s)\n", what, strerror(errno));
	harness_dump_log(h);
	harness_cleanup(h);
	exit(1);
}

void harness_init(harness *h)
{
	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/corral-test-XXXXXX");
	if (mkdtemp(h->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(h->repo, sizeof h->repo, "%s/models", h->dir);
	snprintf(h->log, sizeof h->log, "%s/corrald.log", h->dir);
	snprintf(h->ipc_url, sizeof h->ipc_url, "ipc://%s/corral.sock", h->dir);
	mkdir(h->repo, 0755);
}

static void mkdirs_for(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
}

void harness_write(harness *h, const char *relpath, const char *content)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", h->repo, relpath);
	mkdirs_for(path);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
		harness_die(h, path);
}

void harness_link(harness *h, const char *relpath, const char *target)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", h->repo, relpath);
	mkdirs_for(path);
	if (symlink(target, path) != 0)
		harness_die(h, path);
}

int harness_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

/* The daemon answers a `models` request. */
static bool answers(corral_client *c)
{
	corral_model_list *l;
	if (corral_list_models(c, &l, NULL) != CORRAL_OK)
		return false;
	corral_model_list_free(l);
	return true;
}

/* Every listed version has left STARTING. */
static bool all_settled(corral_client *c)
{
	corral_model_list *l;
	if (corral_list_models(c, &l, NULL) != CORRAL_OK)
		return false;
	bool settled = true;
	for (size_t i = 0; i < l->count; i++)
		settled = settled && strcmp(l->entries[i].state, "STARTING") != 0;
	corral_model_list_free(l);
	return settled;
}

void harness_run_as(harness *h, uid_t uid, gid_t gid)
{
	h->run_as_uid = uid;
	h->run_as_gid = gid;
	if (chown(h->dir, uid, gid) != 0 || chmod(h->dir, 0755) != 0)
		harness_die(h, h->dir);
}

void harness_start(harness *h, const char *corrald, const char *extra)
{
	char cfg[256];
	snprintf(cfg, sizeof cfg, "%s/corrald.yaml", h->dir);
	int port = harness_free_port();
	snprintf(h->tcp_url, sizeof h->tcp_url, "tcp://127.0.0.1:%d", port);
	h->http_port = harness_free_port();
	FILE *f = fopen(cfg, "w");
	if (f == NULL)
		harness_die(h, cfg);
	fprintf(f, "listen:\n  - %s\n  - %s\nmodel_repository: %s\nruntime_dir: %s/run\n"
	    "http_listen: http://127.0.0.1:%d\n%s\n",
	    h->ipc_url, h->tcp_url, h->repo, h->dir, h->http_port, extra ? extra : "");
	fclose(f);

	h->pid = fork();
	if (h->pid == 0) {
		/* If the test dies, the daemon goes too (and then its workers). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (h->run_as_uid != 0 &&
		    (setgroups(0, NULL) != 0 || setresgid(h->run_as_gid, h->run_as_gid,
						    h->run_as_gid) != 0 ||
			setresuid(h->run_as_uid, h->run_as_uid, h->run_as_uid) != 0))
			_exit(126);
		execl(corrald, corrald, "--config", cfg, (char *)NULL);
		_exit(127);
	}
	long long deadline = harness_now_ms() + 30000;
	while (harness_now_ms() < deadline) {
		if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
			h->pid = 0;
			harness_die(h, "corrald exited during start");
		}
		corral_client *c;
		if (corral_client_open(&c, h->ipc_url, NULL) == CORRAL_OK) {
			corral_client_set_timeout(c, 2000);
			bool ok = h->no_settle ? answers(c) : all_settled(c);
			corral_client_close(c);
			if (ok)
				return;
		}
		sleep_ms(50);
	}
	harness_die(h, "corrald did not settle within 30 s");
}

int harness_stop(harness *h)
{
	if (h->pid <= 0)
		return 0;
	kill(h->pid, SIGTERM);
	int status = -1;
	long long deadline = harness_now_ms() + 10000;
	while (harness_now_ms() < deadline) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			return status;
		}
		sleep_ms(20);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	h->pid = 0;
	return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void harness_cleanup(harness *h)
{
	harness_stop(h);
	if (h->dir[0])
		nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	h->dir[0] = '\0';
}

corral_client *harness_client(harness *h, bool tcp)
{
	corral_client *c;
	corral_error err;
	if (corral_client_open(&c, tcp ? h->tcp_url : h->ipc_url, &err) != CORRAL_OK) {
		fprintf(stderr, "harness: client: %s\n", err.message);
		harness_die(h, "cannot connect");
	}
	corral_client_set_timeout(c, 20000);
	return c;
}

const char *harness_state(corral_client *c, const char *model, int64_t version,
    char *buf, size_t n)
{
	buf[0] = '\0';
	corral_model_list *l;
	if (corral_list_models(c, &l, NULL) != CORRAL_OK)
		return buf;
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->entries[i].name, model) == 0 && l->entries[i].version == version)
			snprintf(buf, n, "%s", l->entries[i].state);
	corral_model_list_free(l);
	return buf;
}

bool harness_wait_state(corral_client *c, const char *model, int64_t version,
    const char *state, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;
	char buf[32];
	do {
		if (strcmp(harness_state(c, model, version, buf, sizeof buf), state) == 0)
			return true;
		sleep_ms(20);
	} while (harness_now_ms() < deadline);
	return false;
}

int harness_workers(harness *h, pid_t *pids, int max)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < max) {
		char path[300], buf[512];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* pid (comm) state ppid ...: comm may hold spaces, so start
		 * after the last ')'. */
		char *p = strrchr(buf, ')');
		int ppid = 0;
		char state;
		if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == h->pid &&
		    state != 'Z')
			pids[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

void harness_dump_log(harness *h)
{
	FILE *f = fopen(h->log, "r");
	if (f == NULL)
		return;
	char line[1024];
	fprintf(stderr, "---- corrald log ----\n");
	while (fgets(line, sizeof line, f))
		fputs(line, stderr);
	fprintf(stderr, "---------------------\n");
	fclose(f);
}

int harness_http_get(int port, const char *path, char **body)
{
	if (body)
		*body = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char req[512];
	int n = snprintf(req, sizeof req,
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t got;
	while (buf && (got = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)got;
		/* complete once the headers and Content-Length bytes are in */
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		if (end && cl && cl < end &&
		    len >= (size_t)(end + 4 - buf) + strtoull(cl + 17, NULL, 10))
			break;
		if (len == cap) {
			char *grown = realloc(buf, cap * 2 + 1);
			if (grown == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	close(fd);
	if (buf == NULL)
		return -1;
	buf[len] = '\0';
	int status = -1;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	char *start = strstr(buf, "\r\n\r\n");
	if (body && start)
		*body = strdup(start + 4);
	free(buf);
	return status;
}
