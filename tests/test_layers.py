"""The house holds (issue 33): the layers of pyproject.toml's import-linter contracts are kept, no module of the lab
imports itself through others (counting the imports made inside functions), and an import inside a function is kept
only for an optional or heavy third-party package, each with its reason."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("resnet_viz", "ui")

# Imports left inside functions, and why: each is a third-party package that is optional or heavy to import, needed
# only by the function that imports it. A project module never is (it is imported at the top of the module).
LAZY = {
    "captum": "heavy (about 1 s); only the features view's attributions",
    "torchvision": "heavy (about 1 s); only the ResNet family's definitions and the local datasets",
    "sklearn": "heavy; only loading the embedded digits",
    "PIL": "only an uploaded image and a PNG written on request",
    "distributed": "optional (the `cluster` extra); only with a Dask scheduler",
    "IPython": "optional; only in a notebook",
    "plotly": "heavy; the offline report's plotly.js, and the warm-up's import ahead of the first page",
    "streamlit": "the app's glue only: a private module probed by a guarded test (ui/legacy_guard.py), the frontend's "
                 "files (ui/preload.py)",
}


def _modules() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    out[name.removesuffix(".__init__")] = path
    return out


def _target(module: str, path: str, node: ast.ImportFrom | ast.Import, modules) -> list[str]:
    """The modules `node` imports (a project module where the name is one, else the top-level package)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        parts = parts[:len(parts) - node.level + (1 if path.endswith("__init__.py") else 0)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _imports():
    """{module: (imports at any depth, imports inside functions)}, each a set of (target, line)."""
    modules = _modules()
    out = {}
    for name, path in modules.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        every, inner = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        inner.update((t, sub.lineno) for t in _target(name, path, sub, modules))
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                every.update((t, node.lineno) for t in _target(name, path, node, modules))
        out[name] = (every, inner)
    return modules, out


def _project(target: str, modules) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def test_the_layers_of_the_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or os.path.join(os.path.dirname(sys.executable), "lint-imports")
    if not os.path.exists(exe):
        pytest.fail("lint-imports is missing: pip install -r requirements-dev.txt")
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_itself_through_others():
    """Tarjan's strongly connected components of the import graph, imports inside functions included: each is one
    module (an import circle would make a component of two or more)."""
    modules, imports = _imports()
    graph = {m: {p for t, _ in imports[m][0] if (p := _project(t, modules)) and p != m} for m in modules}
    index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    # Deep recursion for a long import chain, for this test only: a process-wide limit left raised would let the
    # tests after it parse what the lab refuses as nested too deeply (tests/test_untrusted_input.py).
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        for m in modules:
            if m not in index:
                visit(m)
    finally:
        sys.setrecursionlimit(before)
    assert not circles, circles


def test_an_import_inside_a_function_is_only_an_optional_or_heavy_package():
    modules, imports = _imports()
    found = []
    for m, (_, inner) in imports.items():
        for target, line in inner:
            head = target.split(".")[0]
            if m == "resnet_viz" and target == "resnet_viz.api":
                continue  # `import resnet_viz` stays cheap: the API (and PyTorch) load on first use (PEP 562)
            if head not in LAZY:
                found.append(f"{modules[m]}:{line}: {target}")
    assert not found, "import these at the top of the module:\n" + "\n".join(sorted(found))
    # Every reason is still needed (a package no longer imported lazily leaves the list).
    used = {t.split(".")[0] for _, (_, inner) in imports.items() for t, _ in inner}
    assert set(LAZY) <= used, set(LAZY) - used
