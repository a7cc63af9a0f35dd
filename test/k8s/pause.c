/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pause.c - the pod sandbox process of the test cluster's pause image
 *
 * Every pod's network namespace is held by one sleeping process; this is
 * ours, so the test cluster pulls nothing from a registry. It sleeps until
 * SIGTERM or SIGINT (exit 0) and reaps the children it inherits (it is
 * PID 1 of a pod that shares its PID namespace).
 * Built static by test/k8s/cluster: gcc -static -O2 -o pause pause.c
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, NULL) < 0) {
		perror("pause: sigaction");
		_exit(1);
	}
}

int main(int argc, char **argv)
{
	sigset_t block, wait_mask;

	(void)argv;
	if (argc > 1) {
		fputs("usage: pause (sleeps until SIGTERM or SIGINT)\n",
		      stderr);
		return 2;
	}
	/* blocked between the test and the wait, so no signal is lost there */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGCHLD);
	handle(SIGTERM, on_stop);
	handle(SIGINT, on_stop);
	handle(SIGCHLD, on_child);
	on_child(SIGCHLD);
	while (!stopping)
		sigsuspend(&wait_mask);
	return 0;
}
