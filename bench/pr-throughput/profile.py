#!/usr/bin/env python3
"""Where the App's CPU goes, from a `bench/pr-throughput/run.sh --trace FILE` recording.

    perf script -i FILE -F comm,ip,sym | python3 bench/pr-throughput/profile.py [--projects 200] [--hz 499]

Counts the samples of the App's own threads (children such as git, bubblewrap and the stand-in are left out; their
CPU is reported separately by the benchmark) and files each under the first area that one of its frames names,
innermost first for the kernel's system calls, outermost first for managed code. Prints ms of CPU per project.
"""
import argparse
import collections
import re
import sys

APP_THREADS = ('.NET', 'terraform launc', 'Worker #', 'DelayedJobSched', 'RecurringJobSch', 'ServerJobCancel',
               'PostgreSqlHeart', 'ServerHeartbeat', 'Kestrel', 'Ensemble')

# (area, pattern matched against a frame); the first area whose pattern any frame matches wins.
AREAS = [
    ('JIT (tiered recompilation)', r'^comm:\.NET Tiered'),
    ('garbage collection', r'^comm:\.NET (Server )?GC|GCHeap|gc_heap|WKS::|SVR::'),
    ('process start and exit (git, terraform)', r'ChildProcess|GitProcess|System\.Diagnostics\.Process|__x64_sys_vfork|__x64_sys_execve|do_wait|SigHandler|^comm:terraform launc'),
    ('S3 uploads', r'S3ArtifactStore|AWSSDK'),
    ('GitHub API (HTTP)', r'OctokitChecksClient|RateLimitHandler|Octokit|System\.Net\.Http'),
    ('Hangfire bookkeeping (PostgreSQL storage)', r'\[Hangfire'),
    ("Ensemble's state store (SQL, locks)", r'SqlStateStore|RepositoryRunSlots|PublishMemos'),
    ('PostgreSQL client (other)', r'\[Npgsql'),
    ('workspace files (create, delete)', r'RunLog::TryDelete|do_mkdirat|do_rmdir|do_unlinkat|Directory::CreateDirectory|FileSystem::'),
    ('plan parse, render, fingerprint', r'Ensemble\.Jobs\.Plans'),
    ('discovery', r'DiscoverJob|ProjectFinder|Ensemble\.Jobs\.Discovery'),
    ('thread pool and synchronisation (futex, yield, epoll)', r'do_futex|sched_yield|do_epoll_wait|LowLevelLifoSemaphore|PortableThreadPool|epoll_wait|__futex'),
    ('sockets (kernel)', r'__x64_sys_sendto|__x64_sys_recvfrom|tcp_|__sys_sendto'),
    ('other Ensemble code', r'\[Ensemble'),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--projects', type=int, default=200)
    parser.add_argument('--hz', type=float, default=499.0)
    args = parser.parse_args()
    compiled = [(name, re.compile(pattern)) for name, pattern in AREAS]
    counts = collections.Counter()
    total = 0
    for sample in sys.stdin.read().split('\n\n'):
        lines = [line.strip() for line in sample.strip().split('\n') if line.strip()]
        if len(lines) < 2:
            continue
        comm = lines[0]
        if not comm.startswith(APP_THREADS):
            continue
        total += 1
        frames = ['comm:' + comm] + [re.sub(r'^[0-9a-f]+\s+', '', line) for line in lines[1:]]
        area = next((name for name, pattern in compiled if any(pattern.search(f) for f in frames)), 'other (runtime, kernel, unattributed)')
        counts[area] += 1
    per_sample = 1000.0 / args.hz / args.projects
    print(f'| area | ms per project | share |')
    print('|---|---:|---:|')
    for name, count in counts.most_common():
        print(f'| {name} | {count * per_sample:.1f} | {100.0 * count / max(total, 1):.0f} % |')
    print(f'| **all App threads** | **{total * per_sample:.1f}** | 100 % |')


if __name__ == '__main__':
    main()
