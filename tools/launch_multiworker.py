"""Runs `tfgen train ... --strategy multiworker` as N worker processes on this machine.

Each worker gets a free 127.0.0.1 port and its own `TF_CONFIG`; their output is streamed with a
`[worker i]` prefix. Exits 0 when every worker succeeds; if one fails the others are stopped
(they would wait for it forever in the next collective) and the launcher exits non-zero.

    python tools/launch_multiworker.py --workers 2 -- dcgan --dataset mnist --steps 100 \\
        --batch-size 64 --out runs/dcgan_2workers

Only worker 0 (the chief) keeps its outputs under `--out`. On a real cluster, run the same
`tfgen train` command on every host with that host's `TF_CONFIG` instead (see README).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"


def free_ports(n):
    """`n` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))  # keep each open until all are picked, so they differ
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(ports, index):
    """The `TF_CONFIG` of worker `index` in a cluster of workers on `ports`."""
    return json.dumps(
        {
            "cluster": {"worker": [f"{HOST}:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )


def train_command(train_args):
    """`tfgen train <train_args>` with `--strategy multiworker` (added when absent)."""
    args = list(train_args)
    if "--strategy" in args:
        value = args[args.index("--strategy") + 1 : args.index("--strategy") + 2]
        if value != ["multiworker"]:
            raise SystemExit(f"launch_multiworker: --strategy must be multiworker, got {value}")
    else:
        args += ["--strategy", "multiworker"]
    return [sys.executable, "-m", "tfgen.cli", "train", *args]


def _stream(process, prefix, out):
    for line in process.stdout:
        out.write(f"{prefix} {line}")
        out.flush()


def launch(command, workers=2, cpu_only=False, timeout=None, env=None, out=sys.stdout):
    """Starts `command` once per worker, streams the output, returns the exit codes in order.

    Args:
        command: list of str. The program every worker runs (e.g. `train_command(...)`); it
            finds its place in the cluster in `TF_CONFIG`.
        workers: int. Number of worker processes.
        cpu_only: bool. Hide GPUs from the workers (CUDA_VISIBLE_DEVICES="").
        timeout: float or None. Seconds before the workers are stopped.
        env: dict or None. Environment of the workers (default: this process's).
        out: file. Where the prefixed output goes.
    """
    if workers < 1:
        raise SystemExit(f"launch_multiworker: --workers must be >= 1, got {workers}")
    ports = free_ports(workers)
    processes, threads = [], []
    for index in range(workers):
        env_i = {**(os.environ if env is None else env), "TF_CONFIG": tf_config(ports, index)}
        env_i.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if cpu_only:
            env_i["CUDA_VISIBLE_DEVICES"] = ""
        process = subprocess.Popen(
            command,
            env=env_i,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        processes.append(process)
        thread = threading.Thread(target=_stream, args=(process, f"[worker {index}]", out))
        thread.start()
        threads.append(thread)
    deadline = None if timeout is None else time.monotonic() + timeout
    codes = [None] * workers
    try:
        while None in codes:
            for i, process in enumerate(processes):
                codes[i] = process.poll()
            failed = any(code not in (None, 0) for code in codes)
            late = deadline is not None and time.monotonic() > deadline
            if failed or late:
                if late:
                    out.write(f"launch_multiworker: stopping the workers after {timeout} s\n")
                break
            time.sleep(0.2)
    finally:
        # A worker whose peer died blocks in the next collective: stop whatever still runs.
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in threads:
            thread.join()
    return [process.returncode for process in processes]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [--workers N] [--cpu] [--timeout S] -- KIND --dataset ... --out ...",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--cpu", action="store_true", help="hide GPUs from the workers")
    parser.add_argument("--timeout", type=float, help="stop the workers after this many seconds")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="tfgen train arguments")
    args = parser.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    if not train_args:
        parser.error("give the tfgen train arguments after --, e.g. -- dcgan --dataset mnist ...")
    codes = launch(train_command(train_args), args.workers, args.cpu, args.timeout)
    for index, code in enumerate(codes):
        print(f"launch_multiworker: worker {index} exited with {code}")
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
