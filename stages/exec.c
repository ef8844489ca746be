/*
 * exec.c: the exec stage: runs a command, never through a shell, with the
 * item's data on its standard input; what it writes on standard output
 * becomes the item's data.  A non-zero exit or a signal fails the item with
 * the start of what the command wrote on standard error.
 *
 * `command` is an argv list, or a string split into words as sh would
 * (quotes group, a backslash escapes) with no other shell syntax.  {name}, {stem}, {ext} and
 * {dir} expand inside single arguments ({{ and }} are braces); an argument
 * that starts with an expansion and would start with '-' gets "./" in
 * front, so an item's name never becomes an option.
 *
 * The child gets only standard input, output and error, its own process
 * group and an empty signal mask; it is always reaped.  Its signals start
 * at their default action, except those ignored when the stage opened
 * (nohup, trap ''), which stay ignored.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stages/stages.h"

extern char **environ;

#define STDERR_KEEP 300 /* bytes of a failing command's stderr in its message */

/* What a child that cannot run its command writes on its stderr, before
 * the errno of what failed (see spawn()). */
#define EXEC_FAILED "\0piperun: could not run the command\0"

struct exec_state {
	char **argv;  /* the templates, NULL-terminated */
	size_t argc;
	char *path;   /* argv[0] resolved on PATH, or NULL when it must be per item */
	char *words;  /* storage of a split string */
	sigset_t caught;     /* the signals with a handler when the stage opened */
};

/* Splits S into words in place: blanks separate, '...' and "..." group, a
 * backslash escapes outside single quotes.  Returns the count, -1 on an
 * unterminated quote. */
static long
split_words(char *s, char **argv, size_t max)
{
	char *r = s, *w = s;
	size_t n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\n')
			r++;
		if (*r == '\0')
			return (long)n;
		if (n + 1 >= max)
			return -1;
		argv[n++] = w;
		while (*r != '\0' && *r != ' ' && *r != '\t' && *r != '\n') {
			if (*r == '\'' || *r == '"') {
				char q = *r++;
				while (*r != '\0' && *r != q) {
					/* As in sh: inside double quotes a backslash
					 * escapes only " \\ $ and `. */
					if (q == '"' && *r == '\\' && r[1] != '\0' &&
					    strchr("\"\\$`", r[1]) != NULL)
						r++;
					*w++ = *r++;
				}
				if (*r != q)
					return -1;
				r++;
			} else {
				if (*r == '\\' && r[1] != '\0')
					r++;
				*w++ = *r++;
			}
		}
		if (*r != '\0')
			r++;
		*w++ = '\0';
	}
}

/* Checks a template's braces; returns the bad placeholder or NULL. */
static const char *
template_check(const char *t)
{
	static char bad[64];

	for (const char *p = t; *p != '\0'; p++) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			p++;
			continue;
		}
		if (*p != '{')
			continue;
		const char *end = strchr(p, '}');
		size_t n = end ? (size_t)(end - p - 1) : 0;
		if (end != NULL && ((n == 4 && (!strncmp(p + 1, "name", 4) || !strncmp(p + 1, "stem", 4))) ||
		                    (n == 3 && (!strncmp(p + 1, "ext", 3) || !strncmp(p + 1, "dir", 3))))) {
			p = end;
			continue;
		}
		snprintf(bad, sizeof(bad), "%.*s", end ? (int)(n + 2) : 20, p);
		return bad;
	}
	return NULL;
}

/* Returns a malloc'd copy of PATH's file found on $PATH, or NULL. */
static char *
resolve(const char *cmd)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save, *found = NULL;

	struct stat st;

	if (strchr(cmd, '/') != NULL)
		return stat(cmd, &st) == 0 && S_ISREG(st.st_mode) && access(cmd, X_OK) == 0 ? strdup(cmd)
		                                                                            : NULL;
	copy = strdup(path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	/* Each entry of PATH in turn; an empty one is the current folder. */
	for (dir = copy; copy != NULL && dir != NULL && found == NULL; dir = save) {
		save = strchr(dir, ':');
		if (save != NULL)
			*save++ = '\0';
		size_t n = strlen(dir) + strlen(cmd) + 3;
		char *full = malloc(n);
		if (full == NULL)
			break;
		snprintf(full, n, "%s/%s", *dir ? dir : ".", cmd);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			found = full;
		else
			free(full);
	}
	free(copy);
	return found;
}

static void
exec_close(void *state)
{
	struct exec_state *e = state;

	if (e == NULL)
		return;
	free(e->argv);
	free(e->path);
	free(e->words);
	free(e);
}

/* Fills SET with the signals that have a handler now.  A command starts
 * with those at their default action, as execve() leaves them; the others
 * it inherits as they are: at their default action, or ignored (nohup,
 * trap ''), which they stay. */
static void
caught_signals(sigset_t *set)
{
	struct sigaction sa;

	sigemptyset(set);
	/* sa_handler shares its place with sa_sigaction. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN)
			sigaddset(set, sig);
}

static int
exec_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	struct exec_state *e = calloc(1, sizeof(*e));
	const char *const *list = NULL;
	size_t count = 0;
	int type = host->opt_type(opts, "command");

	if (e == NULL) {
		host->open_error(opts, "out of memory");
		return -1;
	}
	*state = e;
	if (type == PIPERUN_OPT_ABSENT) {
		host->open_error(opts, "option 'command' is required");
		goto fail;
	}
	if (type == PIPERUN_OPT_STRING) {
		const char *s;
		if (host->opt_string(opts, "command", &s) < 0)
			goto fail;
		e->words = strdup(s);
		e->argv = calloc(strlen(s) / 2 + 2, sizeof(char *));
		long n = e->words && e->argv ? split_words(e->words, e->argv, strlen(s) / 2 + 2) : -1;
		if (n < 0) {
			host->open_error(opts, "option 'command': an unterminated quote");
			goto fail;
		}
		e->argc = (size_t)n;
	} else {
		if (host->opt_list(opts, "command", &list, &count) < 0)
			goto fail;
		e->argv = calloc(count + 1, sizeof(char *));
		if (e->argv == NULL)
			goto fail;
		for (size_t i = 0; i < count; i++)
			e->argv[i] = (char *)list[i];
		e->argc = count;
	}
	if (e->argc == 0) {
		host->open_error(opts, "option 'command' names no program");
		goto fail;
	}
	for (size_t i = 0; i < e->argc; i++) {
		const char *bad = template_check(e->argv[i]);
		if (bad != NULL) {
			host->open_error(opts, "option 'command': unknown placeholder '%s' (use {name}, "
			                       "{stem}, {ext} or {dir}; {{ for a brace)", bad);
			goto fail;
		}
	}
	if (strchr(e->argv[0], '{') == NULL) {
		e->path = resolve(e->argv[0]);
		if (e->path == NULL) {
			host->open_error(opts, "command '%s' not found", e->argv[0]);
			goto fail;
		}
	}
	caught_signals(&e->caught);
	return 0;
fail:
	exec_close(e);
	*state = NULL;
	return -1;
}

/* Expands template T for NAME into a new string. */
static char *
expand(const char *t, const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	size_t dirlen = slash ? (size_t)(slash - name) : 1;
	const char *dir = slash ? name : ".";
	size_t stemlen = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	const char *ext = dot && dot != base ? dot : "";
	size_t cap = strlen(t) + 1, len = 0;
	char *out;

	for (const char *p = t; *p != '\0'; p++)
		if (*p == '{')
			cap += strlen(name) + 2;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	for (const char *p = t; *p != '\0'; p++) {
		const char *v = NULL;
		size_t n = 0, skip = 0;
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			out[len++] = *p++;
			continue;
		}
		if (!strncmp(p, "{name}", 6))
			v = name, n = strlen(name), skip = 5;
		else if (!strncmp(p, "{stem}", 6))
			v = base, n = stemlen, skip = 5;
		else if (!strncmp(p, "{ext}", 5))
			v = ext, n = strlen(ext), skip = 4;
		else if (!strncmp(p, "{dir}", 5))
			v = dir, n = dirlen, skip = 4;
		if (v == NULL) {
			out[len++] = *p;
			continue;
		}
		/* A leading expansion never makes an option. */
		if (len == 0 && p == t && n > 0 && v[0] == '-') {
			out[len++] = '.';
			out[len++] = '/';
		}
		memcpy(out + len, v, n);
		len += n;
		p += skip;
	}
	out[len] = '\0';
	return out;
}

struct child_io {
	const unsigned char *in;
	size_t in_len, in_off;
	unsigned char *out;
	size_t out_len, out_cap;
	char err[STDERR_KEEP + 1];
	size_t err_len;
};

/* Moves data to and from the child until it closes its output; both ways
 * at once, so no pipe fills up while the other waits.  Closes the three
 * descriptors.  Returns 0, -1 on an error (errno set), or what
 * host->stopping() said when the item must be given up. */
static int
pump(const struct piperun_host *host, struct piperun_out *out, int in_fd, int out_fd, int err_fd,
     struct child_io *io)
{
	/* Whether the host can tell us to stop (interface 1.2 and later). */
	int can_stop = host->size >= offsetof(struct piperun_host, stopping) + sizeof(host->stopping);
	struct pollfd p[3];
	int rc = 0;

	if (io->in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	while (out_fd >= 0 || err_fd >= 0) {
		p[0] = (struct pollfd){ in_fd, POLLOUT, 0 };
		p[1] = (struct pollfd){ out_fd, POLLIN, 0 };
		p[2] = (struct pollfd){ err_fd, POLLIN, 0 };
		if (can_stop && (rc = host->stopping(out)) != 0)
			break;
		if (poll(p, 3, can_stop ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		if (in_fd >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in_fd, io->in + io->in_off, io->in_len - io->in_off);
			if (w > 0)
				io->in_off += (size_t)w;
			/* EPIPE: the command does not want the rest; not an error. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || io->in_off == io->in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
		if (out_fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
			if (io->out_len == io->out_cap) {
				size_t cap = io->out_cap ? io->out_cap * 2 : 65536;
				unsigned char *b = host->resize(io->out, cap);
				if (b == NULL) {
					errno = ENOMEM;
					rc = -1;
					break;
				}
				io->out = b;
				io->out_cap = cap;
			}
			ssize_t r = read(out_fd, io->out + io->out_len, io->out_cap - io->out_len);
			if (r > 0)
				io->out_len += (size_t)r;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(out_fd);
				out_fd = -1;
			}
		}
		if (err_fd >= 0 && (p[2].revents & (POLLIN | POLLERR | POLLHUP))) {
			char buf[4096];
			ssize_t r = read(err_fd, buf, sizeof(buf));
			if (r > 0) {
				size_t keep = STDERR_KEEP - io->err_len;
				if ((size_t)r < keep)
					keep = (size_t)r;
				memcpy(io->err + io->err_len, buf, keep);
				io->err_len += keep;
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(err_fd);
				err_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	return rc;
}

/* Ends the command's whole process group: TERM, then KILL if it is still
 * there after a grace period; reaps the command into *STATUS. */
static void
stop_group(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < 40; i++) {
		if (waitpid(pid, status, WNOHANG) == pid) {
			kill(-pid, SIGKILL); /* what it left behind in its group */
			return;
		}
		usleep(50000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* One line of the command's stderr for a message. */
static const char *
err_line(struct child_io *io)
{
	io->err[io->err_len] = '\0';
	for (size_t i = 0; i < io->err_len; i++)
		if (io->err[i] == '\n' || io->err[i] == '\r' || io->err[i] == '\0')
			io->err[i] = ' ';
	while (io->err_len > 0 && io->err[io->err_len - 1] == ' ')
		io->err[--io->err_len] = '\0';
	return io->err;
}

/* Makes FD descriptor TO in the child, open across execve(). */
static int
child_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

/*
 * Starts PATH with ARGV in a process group of its own, IN, OUT and ERR as
 * its standard input, output and error and no other descriptor, and no
 * signal blocked; the signals in CAUGHT, which have handlers here, are at
 * their default action before the child lets any signal in.  Returns 0
 * with *PID set, or an errno.
 *
 * The child borrows this thread's memory and stack until it runs the
 * command (vfork()), as posix_spawn() does with a stack it maps for the
 * child and unmaps after: that stack is what this spares, which in a
 * process whose other threads run on other CPUs costs each command a
 * round of TLB shootdowns.  The child calls only async-signal-safe
 * functions, and every signal is blocked until its handlers are reset, so
 * that none of this process's runs in the child.  A child that cannot run
 * the command says why on ERR (see ran()) and exits 127; not through
 * memory, which it shares only under vfork(), and sanitizers and valgrind
 * make vfork() a fork().
 */
static int
spawn(const char *path, char *const argv[], int in, int out, int err, const sigset_t *caught,
      pid_t *pid)
{
	sigset_t all, old;
	pid_t child;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	child = vfork();
	if (child == 0) {
		struct sigaction dfl;
		sigset_t none;
		unsigned char why[sizeof(EXEC_FAILED) + sizeof(int)];
		int said = err, e;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			if (sigismember(caught, sig) == 1)
				sigaction(sig, &dfl, NULL);
		sigemptyset(&none);
		if (child_fd(in, 0) == 0 && child_fd(out, 1) == 0 && child_fd(err, 2) == 0) {
			said = 2;
			if (close_range(3, ~0u, 0) == 0 && setpgid(0, 0) == 0 &&
			    sigprocmask(SIG_SETMASK, &none, NULL) == 0)
				execve(path, argv, environ);
		}
		e = errno;
		memcpy(why, EXEC_FAILED, sizeof(EXEC_FAILED));
		memcpy(why + sizeof(EXEC_FAILED), &e, sizeof(e));
		(void)!write(said, why, sizeof(why));
		_exit(127);
	}
	int why = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (child < 0)
		return why;
	*pid = child;
	return 0;
}

/* Whether the child that ended with STATUS and wrote IO's stderr ran its
 * command: 0, or the errno of what failed before (see spawn()). */
static int
ran(const struct child_io *io, int status)
{
	int e;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 127 ||
	    io->err_len != sizeof(EXEC_FAILED) + sizeof(e) ||
	    memcmp(io->err, EXEC_FAILED, sizeof(EXEC_FAILED)) != 0)
		return 0;
	memcpy(&e, io->err + sizeof(EXEC_FAILED), sizeof(e));
	return e;
}

static int
exec_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
             struct piperun_out *out)
{
	const struct exec_state *e = state;
	char **argv = calloc(e->argc + 1, sizeof(char *));
	char *path = NULL;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct child_io io = { .in = item->data, .in_len = item->len };
	pid_t pid;
	int rc = -1, status = 0, spawned;

	if (argv == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < e->argc; i++) {
		argv[i] = expand(e->argv[i], item->name);
		if (argv[i] == NULL) {
			host->item_error(out, "out of memory");
			goto done;
		}
	}
	path = e->path != NULL ? strdup(e->path) : resolve(argv[0]);
	if (path == NULL) {
		host->item_error(out, "command '%s' not found", argv[0]);
		goto done;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		host->item_error(out, "pipe: %s", strerror(errno));
		goto done;
	}
	spawned = spawn(path, argv, in[0], outp[1], errp[1], &e->caught, &pid);
	close(in[0]);
	close(outp[1]);
	close(errp[1]);
	in[0] = outp[1] = errp[1] = -1;
	if (spawned != 0) {
		host->item_error(out, "cannot run '%s': %s", argv[0], strerror(spawned));
		goto done;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	int pumped = pump(host, out, in[1], outp[0], errp[0], &io);
	int why = errno;
	in[1] = outp[0] = errp[0] = -1; /* pump() closed them */
	if (pumped != 0) {
		stop_group(pid, &status);
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	int why_not = pumped == 0 ? ran(&io, status) : 0;
	if (why_not != 0) {
		host->item_error(out, "cannot run '%s': %s", argv[0], strerror(why_not));
	} else if (pumped == PIPERUN_STOP_TIMEOUT) {
		host->item_error(out, "'%s' timed out; its process group was stopped", argv[0]);
	} else if (pumped == PIPERUN_STOP_INTERRUPT) {
		host->item_error(out, "'%s' was interrupted", argv[0]);
	} else if (pumped < 0) {
		host->item_error(out, "'%s': %s", argv[0], strerror(why));
	} else if (WIFSIGNALED(status)) {
		host->item_error(out, "'%s' was killed by signal %d (%s)%s%s", argv[0], WTERMSIG(status),
		                 strsignal(WTERMSIG(status)), io.err_len ? ": " : "", err_line(&io));
	} else if (WEXITSTATUS(status) != 0) {
		host->item_error(out, "'%s' exited with status %d%s%s", argv[0], WEXITSTATUS(status),
		                 io.err_len ? ": " : "", err_line(&io));
	} else {
		rc = host->emit_owned(out, NULL, io.out, io.out_len);
		io.out = NULL;
	}
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	host->release(io.out);
	for (size_t i = 0; i < e->argc; i++)
		free(argv[i]);
	free(argv);
	free(path);
	return rc;
}

const struct piperun_stage pr_stage_exec = {
	PIPERUN_STAGE_HEADER,
	.name = "exec",
	.summary = "run a command (no shell) with the item on stdin; its stdout is the data",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_IO,
	.open = exec_open,
	.process = exec_process,
	.close = exec_close,
};
