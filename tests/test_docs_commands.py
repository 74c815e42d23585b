"""Every command of README.md and docs/**/*.md runs, scaled down (issue 23, point 6).

A ```bash block is run line by line in bash, a ```python block as a script; ```console and
```text blocks are shown, not run (a TPU, several hosts, a server, a synopsis), each with its
reason beside it in the docs. A page's blocks run in order in one scratch folder, because its
later blocks use what its earlier ones wrote (runs/..., serving/, digits.npy); two pages run
side by side. Every command must exit 0; each test reports the failing commands of one block
with the tail of their output (all of it is kept in the page's logs/ folder).
"""

import concurrent.futures
import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib

import pytest

from tests.conftest import ROOT, SHARED_DATA

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINKED = ("recipes", "examples", "tools", "benchmarks", "docs")
COMMAND_TIMEOUT_S = 300
# Pages run side by side: most of a command is one core importing TensorFlow and tracing.
JOBS = 2


def _epoch_recipes():
    """A regex of the zoo recipes that count epochs, not steps (scaled with train.epochs)."""
    names = [
        path.stem
        for path in sorted((ROOT / "recipes").glob("*.toml"))
        if "epochs" in tomllib.loads(path.read_text()).get("train", {})
    ]
    return "(?:" + "|".join(map(re.escape, names)) + ")" if names else "(?!)"


EPOCHS = _epoch_recipes()

# Not run, and why. Matched against the command (after its VAR=value prefixes).
SKIP = [
    (
        r"^python3\.11 -m venv .*&& pytest$",
        "README's test set-up line: .ci/run runs exactly this (a fresh venv, the editable "
        "install, pytest) on every submission; inside the suite it would run the suite again",
    ),
]

# How each documented command is scaled down: (the commands it applies to, pattern,
# replacement), applied in order with re.sub to the command line. `^(?!.*X)(.*)$` -> `\1 X`
# appends X when the command lacks it. Everything else runs as written.
SHORT = "--set train.steps=2 --set data.limit=256"
SHORT_EPOCHS = "--set train.epochs=1 --set data.limit=256"
# fmt: off
RULES = [
    # README's set-up line for the main job: the venv and the install are the running
    # environment already; run its tail, the first sample.
    (r"^python3\.11 -m venv ", r"^.*&& (?=tfgen )", ""),
    # `tfgen train KIND` and `tfgen finetune`: 2 steps or 1 epoch of 256 images.
    (r"^tfgen (?:train|finetune) ", r"--steps \d+", "--steps 2"),
    (r"^tfgen (?:train|finetune) ", r"--epochs \d+", "--epochs 1"),
    (r"^tfgen (?:train (?!--config)|finetune )", r"^(?!.*--limit\b)(.*)$", r"\1 --limit 256"),
    (r"^tfgen train ", r"--eval-every \d+", "--eval-every 1"),
    (r"^tfgen train ", r"--eval-n \d+", "--eval-n 64"),
    # float16 on a CPU is emulated: about 24 s a step at batch 64, 3 s at batch 8.
    (r"^tfgen train .*--precision mixed_float16", r"^(?!.*--batch-size)(.*)$", r"\1 --batch-size 8"),
    # `tfgen train --config R` and `tfgen rebuild NAME`: the same through --set (a step
    # count given is replaced).
    (r"^tfgen (?:train --config|rebuild) ", r" --set train\.(?:steps|epochs)=\d+", ""),
    (rf"^tfgen train --config (?!recipes/{EPOCHS}\.toml)", r"$", f" {SHORT}"),
    (rf"^tfgen train --config recipes/{EPOCHS}\.toml", r"$", f" {SHORT_EPOCHS}"),
    # `tfgen rebuild NAME` also evaluates on 64 images, keeps its run and picture in the
    # scratch folder, and publishes to the zoo copy ($TFGEN_ZOO_DIR).
    (rf"^tfgen rebuild (?!{EPOCHS}\b)", r"$", f" {SHORT}"),
    (rf"^tfgen rebuild {EPOCHS}\b", r"$", f" {SHORT_EPOCHS}"),
    (r"^tfgen rebuild ", r"^tfgen rebuild (\w+)(.*)$", r"tfgen rebuild \1\2 --set evaluate.n=64 --run-dir runs/rebuild_\1 --docs-dir rebuilt_docs"),
    # Evaluation and int8 calibration on few images.
    (r"^tfgen evaluate ", r"--n \d+", "--n 64"),
    (r"^tfgen export .*--quantize int8", r"--representative \d+", "--representative 8"),
    (r"^tfgen export .*--quantize int8", r"^(?!.*--representative\b)(.*)$", r"\1 --representative 8"),
    # saved_model_cli's output stays in the scratch folder.
    (r"^saved_model_cli ", r"--outdir /tmp/out", "--outdir saved_model_cli_out"),
    # The article's examples: --quick (3 steps, small networks); 4.4 fine-tunes the zoo's
    # dcgan_mnist as documented (its --quick would pretrain a fresh DCGAN instead).
    (r"^python examples/article_4_[123]_", r"$", " --quick"),
    (r"^python examples/article_4_4_", r"$", " --steps 2 --n-eval 64"),
    # tools/: the same code paths on few steps, seeds and images.
    (r"^python tools/", r"--steps \d+", "--steps 2"),
    (r"^python tools/launch_multiworker\.py", r"$", " --limit 256"),
    (r"^python tools/evaluate_", r"--limit \d+", "--limit 64"),
    (r"^python tools/(?:check_|compare_)", r"--n \d+", "--n 64"),
    (r"^python tools/(?:check_|compare_)", r"^(?!.*--n(?=\s|$))(.*)$", r"\1 --n 64"),
    (r"^python tools/(?:check_fast_path|compare_)", r"--seeds [\d,]+", "--seeds 0"),
    (r"^python tools/ada_limited_data\.py", r"$", " --steps 2 --n 64 --log-every 1 --eval-every 1"),
    (r"^python tools/finetune_dcgan_fashion\.py", r"$", " --quick"),
    # benchmarks/: one short timed block per variant (benchmark_adam.py and
    # benchmark_batch_norm.py run as written: about 10 s each).
    (r"^python benchmarks/benchmark\.py", r"$", " --repeats 1 --block-seconds 0.05"),
    (r"^python benchmarks/benchmark_export\.py", r"$", " --samples 64 --rounds 2 --calls 2 --representative 8"),
    (r"^python benchmarks/benchmark_precision\.py", r"--rows \S+", ""),
    (r"^python benchmarks/benchmark_precision\.py", r"$", " --rows dcgan_mnist --blocks 1 --block-seconds 0.05"),
    # An experiment: two of its arms, two steps each (its curve: steps 0 and 2).
    (r"^tfgen experiment ", r"$", " --set train.steps=2 --set train.steps_per_epoch=1 --arms A_finetune,B_scratch"),
]
# fmt: on

# ```python blocks: a few batches instead of tens.
PYTHON_RULES = [(r"\.take\(\d+\)", ".take(2)")]


@dataclasses.dataclass
class Block:
    page: pathlib.Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str

    @property
    def id(self):
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page):
    """Every fenced block of a markdown page, in order."""
    blocks, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        match = re.match(r"^\s*```(\w*)", lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
        body = "\n".join(lines[i + 1 : end])
        blocks.append(Block(page, i + 1, match.group(1), body))
        i = end + 1
    return blocks


def runnable_blocks():
    return [b for page in DOCS for b in fenced_blocks(page) if b.language in ("bash", "python")]


BLOCKS = runnable_blocks()


def shell_lines(text):
    """A bash block's commands: `\\` continuations joined, blank lines and comments dropped."""
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def scale(command):
    """(the command as run, the reason it is skipped or None)."""
    prefix, rest = re.match(r"^((?:\w+=\S+\s+)*)(.*)$", command).groups()
    for pattern, reason in SKIP:
        if re.search(pattern, rest):
            return command, reason
    for where, pattern, replacement in RULES:
        if re.search(where, rest):
            rest = re.sub(pattern, replacement, rest, count=1 if pattern == "$" else 0)
    return prefix + rest, None


@dataclasses.dataclass
class Result:
    command: str
    returncode: int
    seconds: float
    output: str


class Workspace:
    """One page's scratch folder: tmp/work (links to the repo's folders) beside tmp/shared (a
    link to the shared data's parent, so `../shared/data` resolves) and tmp/zoo (a copy of
    savedmodels/, so rebuilds and card updates never touch the real zoo). Each command's
    output is kept in tmp/logs/."""

    def __init__(self, root):
        self.work, self.logs = root / "work", root / "logs"
        self.work.mkdir()
        self.logs.mkdir()
        for name in LINKED:
            (self.work / name).symlink_to(ROOT / name)
        (root / "shared").symlink_to(SHARED_DATA.resolve().parent)
        zoo = root / "zoo"
        shutil.copytree(ROOT / "savedmodels", zoo)
        self.env = {
            **os.environ,
            "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "TFGEN_DATA_DIR": str(SHARED_DATA.resolve()),
            "TFGEN_ZOO_DIR": str(zoo),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }

    def run(self, command, env, log_name):
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                ["bash", "-c", command],
                cwd=self.work,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
            )
            code, output = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as e:
            code, output = -1, f"{e.output or ''}\n(timed out after {COMMAND_TIMEOUT_S} s)"
        result = Result(command, code, time.perf_counter() - start, output)
        header = f"$ {command}\n(exit {code} after {result.seconds:.1f} s)\n"
        (self.logs / log_name).write_text(header + output)
        return result

    def run_block(self, block):
        """([Result], ["command: why it is not run"]) of one block."""
        results, skipped = [], []
        if block.language == "python":
            script = block.text
            for pattern, replacement in PYTHON_RULES:
                script = re.sub(pattern, replacement, script)
            path = self.work / f"block_{block.line}.py"
            path.write_text(script)
            results.append(self.run(f"python {path.name}", self.env, f"{block.line}.log"))
            return results, skipped
        env = dict(self.env)  # `export X=Y` holds for the rest of the block
        for i, line in enumerate(shell_lines(block.text)):
            export = re.match(r"^export (\w+)=(\S+)$", line)
            if export:
                env[export.group(1)] = export.group(2).strip("'\"")
                continue
            command, skip = scale(line)
            if skip is None:
                results.append(self.run(command, env, f"{block.line}_{i}.log"))
            else:
                skipped.append(f"{command}: {skip}")
        return results, skipped


@pytest.fixture(scope="session")
def block_runs(request, tmp_path_factory):
    """{block id: Future of ([Result], [skipped])}. The selected blocks' pages run JOBS at a
    time, each page's blocks in order (from its first block, since later blocks use what
    earlier ones wrote), the pages with the most commands first."""
    selected = [
        item.callspec.params["block"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_documented_block_runs"
    ]
    last = {}
    for block in selected:
        last[block.page] = max(last.get(block.page, 0), block.line)
    futures = {b.id: concurrent.futures.Future() for b in BLOCKS if b.line <= last.get(b.page, 0)}
    stop = threading.Event()

    # The folders are made here: pytest's tmp_path_factory is not thread-safe.
    slugs = {page: re.sub(r"\W+", "_", str(page.relative_to(ROOT))) for page in last}
    roots = {page: tmp_path_factory.mktemp(slug) for page, slug in slugs.items()}

    def run_page(page):
        blocks = [b for b in BLOCKS if b.id in futures and b.page == page]
        try:
            space = Workspace(roots[page])
            for block in blocks:
                if stop.is_set():
                    break
                futures[block.id].set_result(space.run_block(block))
        except Exception as e:  # the page's tests report it
            for block in blocks:
                if not futures[block.id].done():
                    futures[block.id].set_exception(e)
        finally:
            for block in blocks:
                futures[block.id].cancel()  # a no-op for those done

    def size(page):
        return sum(len(shell_lines(b.text)) for b in BLOCKS if b.page == page)

    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        for page in sorted(last, key=size, reverse=True):
            pool.submit(run_page, page)
        yield futures
        stop.set()  # after the last test (or -x): finish the running commands only


@pytest.mark.large
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_documented_block_runs(block, block_runs):
    results, skipped = block_runs[block.id].result()
    if skipped and not results:
        pytest.skip("; ".join(skipped))
    failures = [r for r in results if r.returncode != 0]
    report = "\n\n".join(
        f"$ {r.command}\n(exit {r.returncode} after {r.seconds:.0f} s)\n{r.output[-3000:]}"
        for r in failures
    )
    assert not failures, f"{block.id}: {len(failures)} command(s) failed\n{report}"


def test_commands_not_run_say_why():
    """A ```console block, or a ```text block of commands, has its reason next to it."""
    for page in DOCS:
        lines = page.read_text().splitlines()
        for block in fenced_blocks(page):
            first = block.text.strip().splitlines()[0] if block.text.strip() else ""
            shown = block.language == "console" or (
                block.language == "text" and re.match(r"^(?:tfgen|python|\$) ", first)
            )
            if not shown:
                continue
            end = block.line + block.text.count("\n") + 2  # the closing fence, 1-based
            around = " ".join(lines[max(0, block.line - 5) : block.line - 1] + lines[end : end + 4])
            assert re.search(r"not run|needs", around), f"{block.id}: say why it is not run"


def test_every_page_has_commands_and_the_rules_parse():
    """Cheap guards: blocks were found, and each rule compiles."""
    assert len(BLOCKS) > 40
    for where, pattern, _ in RULES:
        re.compile(where), re.compile(pattern)
    assert scale("tfgen train dcgan --dataset mnist --steps 200 --out r")[0] == (
        "tfgen train dcgan --dataset mnist --steps 2 --out r --limit 256"
    )
    assert scale("tfgen train --config recipes/dcgan_mnist.toml --set train.steps=200 --out r")[
        0
    ] == ("tfgen train --config recipes/dcgan_mnist.toml --out r " + SHORT)
