"""Model files cannot hang, exhaust or crash otmodel, and save() never loses a file (issue 10: D1, D2, D19, F1).

Each test reproduces one finding of the audit of issue 10. Whatever could hang on the old code
runs in a child process with a time limit, so that a regression fails the test instead of the suite.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import otmodel as om
from otmodel.cli import main
from otmodel.errors import InvalidDataError, ModelFileError
from otmodel.model.io import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_FILE_BYTES, load, loads, save
from otmodel.model.io._schema import _show

ROOT = Path(__file__).resolve().parents[1]
POSIX = os.name == "posix"


def run_child(code: str, timeout: float = 60.0, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout of otmodel; fail on a hang."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            **kw,  # type: ignore[arg-type]
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: {code.strip().splitlines()[-1]}")


def laughs(levels: int) -> str:
    """A model file whose ``nodes`` value is ``9**levels`` strings, written in ~40 bytes per level."""
    lines = ["otmodel: 1", "kind: flow", "arcs:", "  - &l0 [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, levels):
        lines.append(f"  - &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]")
    lines.append(f"nodes: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def flow_problem(name: str = "S") -> om.FlowProblem:
    net = om.Network()
    net.add_node(name, supply=1.0)
    net.add_node("T", supply=-1.0)
    net.add_arc(name, "T", om.Linear(2.0), 0.0, 5.0)
    return om.FlowProblem(net)


# ============================================================================================ D1
def test_billion_laughs_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    # 9 levels of 9 (387 million strings in 507 bytes): the old reader spent minutes in repr()
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs(9))
    assert path.stat().st_size < 600
    res = run_child(
        f"""
        import time
        from otmodel.model.io import load
        from otmodel.errors import ModelFileError
        t = time.perf_counter()
        try:
            load({str(path)!r})
        except ModelFileError as exc:
            print("REFUSED", exc)
        print("SECONDS", time.perf_counter() - t)
        """,
        timeout=60,
    )
    assert "REFUSED" in res.stdout, res.stdout + res.stderr
    assert "YAML aliases repeat more than" in res.stdout
    assert str(path) in res.stdout
    assert float(res.stdout.split("SECONDS")[1]) < 5.0


def test_aliases_within_the_budget_still_load() -> None:
    # a cost mapping shared by alias between two arcs is ordinary YAML and keeps working
    text = """
    otmodel: 1
    kind: flow
    nodes: [{name: S, supply: 1}, {name: T, supply: -1}]
    arcs:
      - {tail: S, head: T, cost: &c {type: quadratic, a: 1.0}}
      - {tail: S, head: T, cost: *c}
    """
    p = loads(textwrap.dedent(text))
    assert list(p.costs.a) == [1.0, 1.0]


def test_alias_budget_is_exact() -> None:
    # a list aliased k times adds (k - 1) * (its size) expanded nodes over the distinct ones
    item = "[" + ", ".join(["x"] * 999) + "]"  # 1,000 nodes
    ok = 1 + MAX_ALIAS_EXPANSION // 1000  # aliases that add exactly MAX_ALIAS_EXPANSION nodes
    for k, allowed in ((ok, True), (ok + 1, False)):
        text = f"a: &a {item}\nb: [" + ", ".join(["*a"] * (k - 1)) + "]\n"
        if allowed:
            with pytest.raises(ModelFileError, match="unknown key"):  # got past the budget to the schema
                loads(text)
        else:
            with pytest.raises(ModelFileError, match="YAML aliases repeat more than"):
                loads(text)


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ModelFileError, match="line 3, column 8: a YAML alias refers to a node that contains it"):
        loads("otmodel: 1\nkind: flow\nnodes: &a [*a]\n")


def test_error_message_of_a_huge_value_is_cheap() -> None:
    # the error helper looks at a bounded part of a value: a shared structure of 9**12 leaves
    # (in a child: the old helper called repr() on the whole of it, for ever)
    res = run_child(
        """
        import time
        from otmodel.model.io import problem_from_dict
        from otmodel.model.io._schema import _show
        from otmodel.errors import ModelFileError
        value = ["x"] * 9
        for _ in range(11):
            value = [value] * 9
        t = time.perf_counter()
        print("SHOW", _show(value))
        print("SECONDS", time.perf_counter() - t)
        try:
            problem_from_dict({"otmodel": 1, "kind": "flow", "nodes": value})
        except ModelFileError as exc:
            print("ERROR", exc)
        """,
        timeout=30,
    )
    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert len(out["SHOW"]) <= 60 and out["SHOW"].startswith("[[["), res
    assert float(out["SECONDS"]) < 0.5
    assert out["ERROR"].startswith("<dict>: nodes[0]: expected a mapping, got [[[")
    assert _show(10**5000).startswith("<an integer of about 5000 digits")


# ============================================================================================ D2
@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("json", "[" * 100_000 + "]" * 100_000),
        ("json", '{"a": ' * 100_000 + "1" + "}" * 100_000),
        ("yaml", "[" * 100_000 + "]" * 100_000),
        ("yaml", "- " * 100_000 + "x"),
        ("json", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
        ("yaml", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
        ("yaml", "a: &x 1\nb: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH),  # with an anchor: the other walk
    ],
    ids=["json-list", "json-object", "yaml-flow", "yaml-block", "json-limit", "yaml-limit", "yaml-anchored"],
)
def test_deep_nesting_is_a_model_file_error(tmp_path: Path, fmt: str, text: str) -> None:
    path = tmp_path / f"deep.{fmt}"
    path.write_text(text)
    # libyaml stops at 1000 levels by itself ("maximum nesting depth"); otmodel at MAX_DEPTH
    with pytest.raises(ModelFileError, match=r": (lists or mappings nested|.*maximum nesting depth)"):
        load(path)


def test_nesting_at_the_limit_reaches_the_schema() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    anchored = "[" * MAX_DEPTH + "&x 1, *x" + "]" * MAX_DEPTH
    for fmt, doc in (("json", text), ("yaml", text), ("yaml", anchored)):
        with pytest.raises(ModelFileError, match="expected a mapping"):
            loads(doc, fmt=fmt)


def test_json_depth_ignores_brackets_in_strings() -> None:
    from otmodel.model.io._text import _json_depth

    doc = json.dumps({"a": '[[["[[' + "\\", "b": [[1], {"c": ["]]]"]}], "d": "[" * 1000})
    assert _json_depth(doc) == 4  # {b: [ {c: [ ... ] } ] }
    assert _json_depth(doc, chunk=3) == 4  # the running depth carries across chunks
    assert _json_depth("[" * 70 + "]" * 70) == 70
    # a name full of brackets is just a string: the file loads
    text = json.dumps({"otmodel": 1, "kind": "flow", "nodes": [{"name": "[" * 200}]})
    assert loads(text, fmt="json").node_names == ["[" * 200]


def test_deep_json_through_the_cli_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"otmodel: error: {path}: ") and "nested" in err
    assert "Traceback" not in err


def test_integer_too_long_to_convert_is_a_model_file_error() -> None:
    for fmt, text in (
        ("yaml", "otmodel: 1\nkind: flow\nnodes: [{name: a, supply: " + "9" * 5000 + "}]\n"),
        ("json", '{"otmodel": 1, "nodes": [{"name": "a", "supply": ' + "9" * 5000 + "}]}"),
    ):
        with pytest.raises(ModelFileError, match="value not readable"):
            loads(text, fmt=fmt, source="m")


# ============================================================================================ D19
def test_directory_is_not_a_model_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    with pytest.raises(ModelFileError, match=f"{path}: not a regular file \\(a directory\\)"):
        load(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "zero.yaml"
    path.symlink_to("/dev/zero")
    # in a child: the old reader read /dev/zero until memory ran out
    res = run_child(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from otmodel.model.io import load
        try:
            load({str(path)!r})
        except Exception as exc:
            print(type(exc).__name__, exc)
        """,
        timeout=60,
    )
    assert res.stdout.startswith(f"ModelFileError {path}: not a regular file (a character device)"), res


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    res = run_child(
        f"""
        from otmodel.model.io import load
        try:
            load({str(path)!r})
        except Exception as exc:
            print(type(exc).__name__, exc)
        """,
        timeout=30,
    )
    assert res.stdout.startswith(f"ModelFileError {path}: not a regular file (a FIFO)"), res


def test_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ModelFileError, match=f"{path}: {MAX_FILE_BYTES + 1:,} bytes, more than the limit"):
        load(path)
    small = tmp_path / "small.yaml"
    save(flow_problem(), small)
    size = small.stat().st_size
    with pytest.raises(ModelFileError, match="more than the limit"):
        load(small, max_bytes=size - 1)
    assert load(small, max_bytes=size).n_arcs == 1


def test_missing_file_is_still_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.yaml")


# ============================================================================================ F1
def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_save_encoding_error_keeps_the_previous_file(tmp_path: Path) -> None:
    # the model refuses a name that cannot be written (F2: what the API accepts, a file can hold) ...
    with pytest.raises(InvalidDataError, match="not valid Unicode"):
        flow_problem("S\ud800")
    # ... and a write that fails while encoding still leaves the previous file whole
    from otmodel.model.io import write_atomic

    for name in ("model.json", "model.yaml"):
        path = tmp_path / name
        save(flow_problem(), path)
        before = path.read_bytes()
        with pytest.raises(UnicodeEncodeError):
            write_atomic(path, "nodes: [S\ud800]")
        assert path.read_bytes() == before
    assert _no_temporaries(tmp_path)


@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_save_on_a_full_disk_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    save(flow_problem(), path)
    before = path.read_bytes()
    # a 4 kB file size limit in a child stands for a full disk: the write fails part-way
    res = run_child(
        f"""
        import resource, signal
        import otmodel as om
        from otmodel.instances import synthetic
        from otmodel.model.io import save
        problem = om.SpatialFlowProblem(
            synthetic(4).network, om.Points([[i / 1000, 0.5] for i in range(1000)], 0.001), om.Euclidean()
        )
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            save(problem, {str(path)!r})
        except OSError as exc:
            print("OSError", exc.errno)
        """,
    )
    assert res.stdout.startswith("OSError"), res
    assert path.read_bytes() == before
    assert load(path).n_arcs == 1
    assert _no_temporaries(tmp_path)


@pytest.mark.skipif(not POSIX, reason="needs SIGKILL")
@pytest.mark.parametrize("name", ["model.yaml", "model.json"])
def test_save_killed_mid_write_keeps_the_previous_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    save(flow_problem(), path)
    before = path.read_bytes()
    # The child stops at its first call of a file's write() (seen by a profiler, which sees C
    # calls), says so, and waits to be killed: the kill lands inside the write, deterministically.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os, sys, time
                from otmodel.instances import synthetic
                from otmodel.model.io import save
                problem = synthetic(30)

                def stop_in_write(frame, event, arg):
                    if event == "c_call" and getattr(arg, "__name__", "") == "write":
                        os.write(1, b"WRITING\\n")
                        time.sleep(120)

                sys.setprofile(stop_in_write)
                save(problem, {str(path)!r})
                sys.setprofile(None)
                os.write(1, b"DONE\\n")
                """
            ),
        ],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"WRITING\n"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert path.read_bytes() == before
    assert load(path).n_arcs == 1


def test_save_keeps_permissions_and_follows_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    save(flow_problem(), target)
    os.chmod(target, 0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    save(flow_problem("A"), link)
    assert link.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert load(target).node_names[0] == "A"
    assert _no_temporaries(tmp_path)


def test_save_into_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save(flow_problem(), tmp_path / "no" / "dir" / "m.yaml")


def test_save_round_trips_after_the_change(tmp_path: Path) -> None:
    p = flow_problem()
    for name in ("m.yaml", "m.json"):
        save(p, tmp_path / name)
        q = load(tmp_path / name)
        assert q.node_names == p.node_names and list(q.costs.b) == list(p.costs.b)
        assert json.loads(json.dumps(q.to_dict())) == p.to_dict()
