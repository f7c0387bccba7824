/*
 * The zero-cost stand-in of the throughput benchmark: answers init, plan and show by replaying what terraform-sim
 * answered for one of the benchmark's projects (recorded by `PrThroughput --record-stand-in DIR`, files next to this
 * executable), so a plan costs one tiny process per command and the benchmark measures Ensemble, not the stand-in.
 * Every project of the benchmark has the same shape, so one recording serves all of them.
 * Built by bench/pr-throughput/run.sh with the machine's C compiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

static char dir[4096];

static int copy(const char *name, int out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int in = open(path, O_RDONLY);
    if (in < 0) { fprintf(stderr, "zero-cost-terraform: cannot read %s\n", path); return 1; }
    char buffer[65536];
    ssize_t n;
    while ((n = read(in, buffer, sizeof buffer)) > 0) {
        if (write(out, buffer, (size_t)n) != n) { close(in); return 1; }
    }
    close(in);
    return n < 0;
}

int main(int argc, char **argv) {
    ssize_t length = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (length <= 0) return 1;
    dir[length] = 0;
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;

    const char *command = argc > 1 ? argv[1] : "";
    if (strcmp(command, "init") == 0) return copy("init.txt", 1);
    if (strcmp(command, "show") == 0) return copy("show.json", 1);
    if (strcmp(command, "plan") == 0) {
        int detailed = 0;
        const char *out = NULL;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "-detailed-exitcode") == 0) detailed = 1;
            if (strncmp(argv[i], "-out=", 5) == 0) out = argv[i] + 5;
        }
        if (out) {
            int file = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (file < 0 || copy("plan.bin", file)) return 1;
            close(file);
        }
        if (copy("plan.txt", 1)) return 1;
        return detailed ? 2 : 0; /* every benchmark plan has changes */
    }
    return copy("version.txt", 1);
}
