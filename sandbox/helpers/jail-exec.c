/* The first program of a run jail started ahead of need (sandbox/ready_jails.py).

   It is copied into the jail's empty work dir before nsjail starts, and unlinks itself at once,
   so the work dir is empty again before any file of the run is placed. Then it waits on stdin for
   the run's command: a 4-byte big-endian length, then that many bytes of NUL-terminated
   arguments. It reads exactly those bytes (the rest of stdin is the program's) and execs the
   command in place, so the program has the pid, parent, fds, limits and environment a fresh
   jail gives it. It never runs anything but that one command. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COMMAND (1u << 20)
#define MAX_ARGS 4096

static int read_exactly(unsigned char *buf, size_t size) {
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(0, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 0) unlink(argv[0]);
    unsigned char head[4];
    if (read_exactly(head, sizeof head) != 0) return 125; /* the worker gave up on this jail */
    uint32_t size = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    if (size == 0 || size > MAX_COMMAND) return 125;
    unsigned char *command = malloc(size + 1);
    static char *args[MAX_ARGS + 1];
    if (command == NULL || read_exactly(command, size) != 0 || command[size - 1] != '\0') return 125;
    size_t count = 0;
    for (size_t at = 0; at < size && count < MAX_ARGS; at += strlen((char *)command + at) + 1)
        args[count++] = (char *)command + at;
    args[count] = NULL;
    execvp(args[0], args);
    fprintf(stderr, "exec %s failed: %s\n", args[0], strerror(errno)); /* as tini words it */
    return 1;
}
