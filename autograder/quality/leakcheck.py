"""The leak check: nothing of reference/ may reach a student release.

Run on every release (`python -m autograder release` fails when it finds anything)
and standalone: `python -m autograder.quality.leakcheck RELEASE_DIR` or `check_release(path)`.

What counts as a leak, in the release folder:

- path: a file under a folder named `reference`, `cnn_reference` or `hidden_tests`;
- file: a file whose bytes (or text, up to line endings and trailing blanks) equal a
  file of reference/, whatever its name;
- module: a .py file whose syntax tree, docstrings and identifiers aside, equals a
  reference module;
- function: a function whose body, docstrings aside and with identifiers normalized
  so that renaming locals hides nothing, equals the body of a reference function
  (private helpers, nested functions and methods included);
- block: a loop, branch, with or try block of a reference implementation (not of its
  tests) pasted somewhere, again compared as normalized syntax trees;
- compiled: a .pyc file, whose source cannot be checked.

Python is read from .py files, from the code cells of notebooks and from fenced
code blocks of Markdown files. Functions and blocks below a minimum size are not
compared: bodies such as `return x` or `pass` occur everywhere and prove nothing.
A reference function meant to be shared verbatim (code given to students in a stub)
is exempt when the line above its `def` (or the `def` line) carries the comment
`# leakcheck: public`.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.core.assignments import KIT_ROOT

# Nodes counted without Load/Store/Del contexts. `return x` has 2, a stub's
# `raise NotImplementedError("...")` 4, a seeded-generator fixture about 6; the
# smallest real layer (a ReLU forward) about 8. 10 keeps every hand-written
# reference function of the kit in scope while one-liners shared with public
# code by design stay out.
MIN_FUNCTION_NODES = 10
# Blocks are matched anywhere, so they need more substance than a whole function
# before a match means anything: about three lines of real code.
MIN_BLOCK_NODES = 25
# Reference files smaller than this (empty __init__.py, a one-line docstring) are
# not compared by content: an empty file in the release is not a leak.
MIN_FILE_BYTES = 64

PUBLIC_MARKER = "leakcheck: public"
SECRET_FOLDERS = frozenset({"reference", "cnn_reference", "hidden_tests"})
_CONTEXT_NODES = (ast.Load, ast.Store, ast.Del)
_BLOCK_NODES = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)
_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
_SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".git", ".venv"})


@dataclass(frozen=True)
class Leak:
    """One finding: which release file (and function) matches which part of reference/."""

    path: str  # relative to the release folder; notebooks add '[cell N]', Markdown '[block N]'
    kind: str  # path, file, module, function, block or compiled
    reference: str  # the matching reference file, or 'file::function'
    function: str = ""  # qualified name of the offending function in the release, if any
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: function {self.function}" if self.function else self.path
        detail = f" ({self.detail})" if self.detail else ""
        return f"LEAK [{self.kind}] {where} matches {self.reference}{detail}"


class _Normalizer(ast.NodeTransformer):
    """Strips what does not change behaviour and renames identifiers by first appearance.

    Docstrings, bare string statements and annotations go; with rename=True every
    local identifier (names, arguments, nested defs, exception and import aliases)
    and every string constant becomes a placeholder, so that a pasted function with
    renamed variables or reworded messages still matches. Attribute names and keyword
    argument names stay: they are the numpy API, which a leak cannot avoid either.
    """

    def __init__(self, rename: bool) -> None:
        self.rename = rename
        self.names: dict[str, str] = {}

    def _name(self, name: str | None) -> str | None:
        if not self.rename or name is None:
            return name
        return self.names.setdefault(name, f"_v{len(self.names)}")

    def _strip_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        kept = [
            statement
            for statement in body
            if not (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            )
        ]
        return kept or [ast.Pass()]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._strip_body(value))
        return super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._name(node.name)
        node.returns = None
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._name(node.name)
        return self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # `x: int = 3` and `x = 3` do the same thing.
        if node.value is None:
            return ast.Pass()
        return self.visit(ast.Assign(targets=[node.target], value=node.value))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node.name = self._name(node.name)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.asname = self._name(node.asname or node.name.split(".")[0]) if self.rename else node.asname
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [self._name(name) for name in node.names]
        return node

    visit_Nonlocal = visit_Global

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.rename and isinstance(node.value, str):
            node.value = "_s"
        return node


def node_count(nodes: list[ast.AST] | ast.AST) -> int:
    """Size of a syntax tree: its nodes, not counting Load/Store/Del markers."""
    roots = nodes if isinstance(nodes, list) else [nodes]
    return sum(1 for root in roots for node in ast.walk(root) if not isinstance(node, _CONTEXT_NODES))


def fingerprint(statements: list[ast.stmt], *, normalize_identifiers: bool = True) -> tuple[str, int]:
    """Hash and size of a list of statements after normalization (the inputs are not modified)."""
    module = ast.Module(body=[_copy(statement) for statement in statements], type_ignores=[])
    normalized = _Normalizer(rename=normalize_identifiers).visit(module)
    body = normalized.body
    if len(body) == 1 and isinstance(body[0], ast.Pass):
        return "", 0
    dump = ast.dump(normalized, include_attributes=False)
    return hashlib.sha256(dump.encode()).hexdigest(), node_count(body)


def _copy(node: ast.AST) -> ast.AST:
    # The normalizer rewrites nodes in place; the caller's tree must stay intact for later walks.
    return copy.deepcopy(node)


def _walk_functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every function in the tree, methods and nested functions included, with a qualified name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, _FUNCTION_NODES):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _walk_functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _walk_functions(node, f"{prefix}{node.name}.")
        else:
            yield from _walk_functions(node, prefix)


def _walk_blocks(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.walk(tree):
        if isinstance(node, _BLOCK_NODES):
            yield node


@dataclass(frozen=True)
class _Source:
    """Python source found in a file: a whole .py file, a notebook cell or a Markdown code block."""

    label: str
    text: str
    whole_module: bool


def _strip_magics(text: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so the rest parses.
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        magic = stripped.startswith(("%", "!")) or (stripped.endswith("?") and " " not in stripped)
        lines.append("" if magic else line)
    return "\n".join(lines)


_FENCE = re.compile(r"^```(?:python|py|python3)?[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_sources(path: Path, label: str) -> list[_Source]:
    """The Python code a file carries: itself (.py), its code cells (.ipynb), its code blocks (.md)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".py":
            return [_Source(label, path.read_text(encoding="utf-8", errors="replace"), True)]
        if suffix == ".ipynb":
            notebook = json.loads(path.read_text(encoding="utf-8", errors="replace"))
            sources = []
            for index, cell in enumerate(notebook.get("cells", [])):
                if cell.get("cell_type") != "code":
                    continue
                text = cell.get("source", "")
                text = "".join(text) if isinstance(text, list) else str(text)
                sources.append(_Source(f"{label}[cell {index}]", _strip_magics(text), False))
            return sources
        if suffix in (".md", ".markdown", ".rst", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")
            return [
                _Source(f"{label}[block {index}]", match.group(1), False)
                for index, match in enumerate(_FENCE.finditer(text))
            ]
    except (OSError, ValueError):
        return []
    return []


def _parse(source: _Source) -> ast.Module | None:
    try:
        return ast.parse(source.text)
    except (SyntaxError, ValueError):
        return None  # not Python after all (a shell snippet in a README); nothing to compare


def _is_public(node: ast.AST, lines: list[str]) -> bool:
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    candidates = lines[max(first - 2, 0) : node.lineno]
    return any(PUBLIC_MARKER in line for line in candidates)


def _file_hashes(path: Path) -> set[str]:
    """Hashes of the raw bytes and of the text with line endings and trailing blanks normalized."""
    data = path.read_bytes()
    hashes = {hashlib.sha256(data).hexdigest()}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return hashes
    normalized = "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"
    hashes.add(hashlib.sha256(normalized.encode()).hexdigest())
    return hashes


def _files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.relative_to(root).parts[:-1])
    )


@dataclass
class ReferenceIndex:
    """Fingerprints of everything under reference/: files, modules, functions and blocks."""

    files: dict[str, str]
    modules: dict[str, str]
    functions: dict[str, str]
    blocks: dict[str, str]
    normalize_identifiers: bool
    min_function_nodes: int
    min_block_nodes: int


def _is_test_file(path: Path) -> bool:
    return path.name.startswith("test_") or path.name == "conftest.py" or "hidden_tests" in path.parts


def index_reference(
    reference_root: Path,
    *,
    normalize_identifiers: bool = True,
    min_function_nodes: int = MIN_FUNCTION_NODES,
    min_block_nodes: int = MIN_BLOCK_NODES,
) -> ReferenceIndex:
    """Fingerprint every file of reference_root; labels are paths as the kit names them ('reference/...')."""
    reference_root = Path(reference_root)
    index = ReferenceIndex({}, {}, {}, {}, normalize_identifiers, min_function_nodes, min_block_nodes)
    for path in _files(reference_root):
        label = f"{reference_root.name}/{path.relative_to(reference_root).as_posix()}"
        sources = python_sources(path, label)
        substantial = path.stat().st_size >= MIN_FILE_BYTES
        for source in sources:
            tree = _parse(source)
            if tree is None:
                continue
            lines = source.text.splitlines()
            if source.whole_module:
                digest, size = fingerprint(tree.body, normalize_identifiers=normalize_identifiers)
                # A module of docstrings and imports only is no secret, whatever its size in bytes.
                substantial = substantial and size >= min_function_nodes
                if substantial:
                    index.modules.setdefault(digest, label)
            for name, node in _walk_functions(tree):
                if _is_public(node, lines):
                    continue
                digest, size = fingerprint(node.body, normalize_identifiers=normalize_identifiers)
                if size >= min_function_nodes:
                    index.functions.setdefault(digest, f"{source.label}::{name}")
            if _is_test_file(path):
                continue  # hidden tests may share checking loops with the public ones by design
            for node in _walk_blocks(tree):
                digest, size = fingerprint([node], normalize_identifiers=normalize_identifiers)
                if size >= min_block_nodes:
                    index.blocks.setdefault(
                        digest, f"{source.label}, {type(node).__name__} block at line {node.lineno}"
                    )
        if substantial:
            for digest in _file_hashes(path):
                index.files.setdefault(digest, label)
    return index


def _check_source(source: _Source, index: ReferenceIndex) -> list[Leak]:
    tree = _parse(source)
    if tree is None:
        return []
    leaks = []
    rename = index.normalize_identifiers
    if source.whole_module:
        digest, size = fingerprint(tree.body, normalize_identifiers=rename)
        if digest in index.modules:
            leaks.append(Leak(source.label, "module", index.modules[digest], detail="same syntax tree"))
            return leaks  # every function would match too; one finding says it
    reported: set[int] = set()  # ids of nodes inside a reported function: their blocks need no second line
    for name, node in _walk_functions(tree):
        if id(node) in reported:
            continue
        digest, size = fingerprint(node.body, normalize_identifiers=rename)
        if size >= index.min_function_nodes and digest in index.functions:
            leaks.append(
                Leak(source.label, "function", index.functions[digest], function=name, detail="same body as a tree")
            )
            reported.update(id(inner) for inner in ast.walk(node))
    owners = {id(inner): name for name, node in _walk_functions(tree) for inner in ast.walk(node)}
    for node in _walk_blocks(tree):
        if id(node) in reported:
            continue
        digest, size = fingerprint([node], normalize_identifiers=rename)
        if size >= index.min_block_nodes and digest in index.blocks:
            leaks.append(
                Leak(
                    source.label,
                    "block",
                    index.blocks[digest],
                    function=owners.get(id(node), "<module level>"),
                    detail=f"{type(node).__name__} block at line {node.lineno}",
                )
            )
            reported.update(id(inner) for inner in ast.walk(node))
    return leaks


def check_release(
    directory: Path | str,
    *,
    reference_root: Path | str | None = None,
    normalize_identifiers: bool = True,
    min_function_nodes: int = MIN_FUNCTION_NODES,
    min_block_nodes: int = MIN_BLOCK_NODES,
) -> list[Leak]:
    """Every leak of reference_root (default: the kit's reference/) found in a release folder.

    An empty list means the folder is clean. Paths in the findings are relative to
    `directory`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder")
    index = index_reference(
        Path(reference_root) if reference_root is not None else KIT_ROOT / "reference",
        normalize_identifiers=normalize_identifiers,
        min_function_nodes=min_function_nodes,
        min_block_nodes=min_block_nodes,
    )
    leaks: list[Leak] = []
    for path in _files(directory):
        relative = path.relative_to(directory).as_posix()
        parts = path.relative_to(directory).parts
        secret = SECRET_FOLDERS.intersection(parts[:-1])
        if secret:
            leaks.append(Leak(relative, "path", f"a folder named {sorted(secret)[0]!r}", detail="secret folder"))
        if path.suffix in (".pyc", ".pyo"):
            leaks.append(Leak(relative, "compiled", "(unknown)", detail="compiled code cannot be checked"))
            continue
        matched = index.files.keys() & _file_hashes(path)
        if matched:
            leaks.append(Leak(relative, "file", index.files[sorted(matched)[0]], detail="same content"))
            continue
        for source in python_sources(path, relative):
            leaks.extend(_check_source(source, index))
    return leaks


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder.quality.leakcheck RELEASE_DIR`: print each leak; exit 1 if there is any."""
    parser = argparse.ArgumentParser(prog="python -m autograder.quality.leakcheck", description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="the release folder to check")
    parser.add_argument("--reference", help="the reference folder (default: the kit's reference/)")
    parser.add_argument(
        "--exact-identifiers", action="store_true", help="compare identifiers as written (default: normalized)"
    )
    args = parser.parse_args(argv)
    leaks = check_release(
        args.directory, reference_root=args.reference, normalize_identifiers=not args.exact_identifiers
    )
    for leak in leaks:
        print(leak, file=sys.stderr)
    if leaks:
        print(f"leak check FAILED: {len(leaks)} leak(s) of reference/ in {args.directory}", file=sys.stderr)
        return 1
    print(f"leak check passed: nothing of reference/ in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
