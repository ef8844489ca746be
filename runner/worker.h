/*
 * worker.h: piperun re-executed as a worker process of a cpu stage.
 */
#ifndef PR_WORKER_H
#define PR_WORKER_H

/* The hidden first argument that starts worker mode: piperun --worker FD. */
#define PR_WORKER_FLAG "--worker"

/*
 * Serves the parent on socket FD: loads the pipeline it sends, opens the
 * stage itself, then runs every item it is sent until the parent closes
 * the socket.  Returns the exit status for main().
 */
int pr_worker_main(int fd);

#endif
