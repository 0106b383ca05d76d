/*
 * The floor for the bridge benchmark: the same ioctl the addon and koffi issue, from a tight C loop.
 * Compiled at bench time with `cc -O2` into bench/out/ (gitignored).
 *
 * usage: ioctl-loop <device> <request hex> <iterations> <repetitions>
 * Prints one line per repetition: "<ns per call> <return value> <errno>". A tenth of the iterations runs
 * first, untimed, so the first repetition does not pay for cold caches. Time is this process's CPU time
 * (user + system, CLOCK_PROCESS_CPUTIME_ID), as the JS cases measure theirs (bridge-child.ts): on an idle
 * machine it equals wall time, and on a shared one it leaves out the time other work had the CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* struct kfd_ioctl_get_version_args: u32 major_version, u32 minor_version. */
struct get_version_args {
  uint32_t major_version;
  uint32_t minor_version;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <device> <request hex> <iterations> <repetitions>\n", argv[0]);
    return 2;
  }
  const char *device = argv[1];
  unsigned long request = strtoul(argv[2], NULL, 16);
  long iterations = strtol(argv[3], NULL, 10);
  long repetitions = strtol(argv[4], NULL, 10);
  if (iterations <= 0 || repetitions <= 0) {
    fprintf(stderr, "iterations and repetitions must be positive\n");
    return 2;
  }
  /* O_CLOEXEC as the addon opens it; read-write like libhsakmt opens /dev/kfd, read-only where refused. */
  int fd = open(device, O_RDWR | O_CLOEXEC);
  if (fd < 0) fd = open(device, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror(device);
    return 1;
  }
  /* volatile: the compiler must not hoist or drop the call or the argument. */
  struct get_version_args args;
  volatile int ret = 0;
  int err = 0;
  for (long i = 0; i < iterations / 10; i++) ret = ioctl(fd, request, &args);
  for (long r = 0; r < repetitions; r++) {
    int64_t t0 = now_ns();
    for (long i = 0; i < iterations; i++) ret = ioctl(fd, request, &args);
    err = ret < 0 ? errno : 0;
    int64_t t1 = now_ns();
    printf("%.3f %d %d\n", (double)(t1 - t0) / (double)iterations, ret, err);
  }
  close(fd);
  return 0;
}
