"""`python -m autograder stubs [--check]`: the stubs' signatures and docstrings, from the reference.

The reference (reference/NAME/*.py) is the one source of what each graded function
takes, returns and promises. The stubs students fill in (assignments/NAME/*.py) carry
a generated copy: for every function, class and method a stub defines, its `def` or
`class` header and its docstring are the reference's, while its body (the TODO, the
hints, the raise NotImplementedError) stays the stub's own. A stub's module docstring
is the reference's followed by the stub's own paragraphs from "Your task:" on.

Only those text spans are rewritten, found with ast (and tokenize for where a header
ends), so the rest of a stub file stays byte for byte as it was. The copied text is
the reference's ruff-formatted source at the same indentation, so the result stays
ruff-format clean. `--check` writes nothing and exits 1 naming every header or
docstring that differs; without it the stubs are rewritten.

To change what students read about a function: edit the reference's docstring, then
run `python -m autograder stubs`.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

from autograder.core.assignments import ASSIGNMENTS, KIT_ROOT, AssignmentSpec

# Where a stub's module docstring stops repeating the reference and starts its own words.
TASK_MARKER = "Your task:"
MODULE_DOCSTRING = "module docstring"

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


class StubError(ValueError):
    """A stub cannot be generated from the reference; the message names the file and what to fix."""


@dataclass(frozen=True)
class Span:
    """Lines [start, end) of a file (0-based), holding one header and/or docstring."""

    start: int
    end: int


@dataclass(frozen=True)
class Replacement:
    """What one span of a stub must become: `name` labels it in reports."""

    name: str
    span: Span
    lines: list[str]


@dataclass(frozen=True)
class Difference:
    """One stub header or docstring that differs from the reference's."""

    file: Path
    name: str

    def __str__(self) -> str:
        return f"{self.file}: {self.name}"


# ---------------------------------------------------------------------------- finding spans


def _header_ends(source: str) -> list[int]:
    """The 1-based lines on which a block header's closing colon stands (followed by the line's end).

    A colon ends a header when it is outside every bracket and nothing but a comment
    follows it on its line; annotations, slices and lambdas never meet both conditions.
    """
    ends, depth, pending = [], 0, None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        if token.type == tokenize.NEWLINE and pending is not None:
            ends.append(pending)
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            is_colon = token.type == tokenize.OP and token.string == ":" and depth == 0
            pending = token.start[0] if is_colon else None
    return ends


def _docstring_node(node: ast.Module | Definition) -> ast.Constant | None:
    """The string constant that opens node's body, or None when node has no docstring."""
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.value
    return None


def _definition_span(node: Definition, header_ends: list[int]) -> Span:
    """The lines of node's header and, when it has one, its docstring."""
    docstring = _docstring_node(node)
    if docstring is not None:
        return Span(node.lineno - 1, docstring.end_lineno)
    header_end = next(line for line in header_ends if line >= node.lineno)
    return Span(node.lineno - 1, header_end)


def _definitions(tree: ast.Module) -> dict[str, Definition]:
    """Top-level functions and classes, and each class's methods as 'Class.method', by name."""
    found: dict[str, Definition] = {}
    for node in tree.body:
        if isinstance(node, Definition):
            found[node.name] = node
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{member.name}"] = member
    return found


# ---------------------------------------------------------------------------- building the stub's text


def _reindented(lines: list[str], from_indent: int, to_indent: int) -> list[str]:
    """lines moved from one indentation to another; blank lines stay blank."""
    if from_indent == to_indent:
        return lines
    return [" " * to_indent + line[from_indent:] if line.strip() else line for line in lines]


def _docstring_body(source: str, node: ast.Constant, where: str) -> str:
    """The text between a docstring's triple quotes, as written in the source."""
    literal = ast.get_source_segment(source, node)
    if literal is None or not (literal.startswith('"""') and literal.endswith('"""')):
        raise StubError(f'{where}: the module docstring must be a plain """...""" string')
    return literal[3:-3]


def _module_replacement(
    reference: str, stub: str, reference_tree: ast.Module, stub_tree: ast.Module, where: Path
) -> Replacement | None:
    """The stub's module docstring: the reference's, then the stub's paragraphs from TASK_MARKER on.

    None when the reference has no module docstring (there is nothing to copy).
    """
    reference_doc, stub_doc = _docstring_node(reference_tree), _docstring_node(stub_tree)
    if reference_doc is None:
        return None
    if stub_doc is None:
        raise StubError(f"{where}: the stub has no module docstring; start it with the reference's")
    own = _docstring_body(stub, stub_doc, str(where))
    text = _docstring_body(reference, reference_doc, f"the reference of {where}")
    if TASK_MARKER in own:
        text = text.rstrip() + "\n\n" + own[own.index(TASK_MARKER) :]
    lines = f'"""{text}"""'.splitlines(keepends=True)
    lines[-1] += "\n"
    return Replacement(MODULE_DOCSTRING, Span(stub_doc.lineno - 1, stub_doc.end_lineno), lines)


def _parsed(source: str, where: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        raise StubError(f"{where} does not parse: {error}") from None


def replacements(reference: str, stub: str, where: Path) -> list[Replacement]:
    """What each header and docstring span of `stub` must be, to agree with `reference`.

    Inputs: the source texts of a reference file and its stub; where names the stub
    in errors. Raises StubError when the stub defines something the reference does not.
    Returns one Replacement per definition of the stub (and its module docstring).
    """
    reference_tree, stub_tree = _parsed(reference, f"the reference of {where}"), _parsed(stub, str(where))
    reference_lines, reference_ends = reference.splitlines(keepends=True), _header_ends(reference)
    reference_definitions = _definitions(reference_tree)
    stub_ends = _header_ends(stub)
    found = []
    module = _module_replacement(reference, stub, reference_tree, stub_tree, where)
    if module is not None:
        found.append(module)
    for name, node in _definitions(stub_tree).items():
        source_node = reference_definitions.get(name)
        if source_node is None or type(source_node) is not type(node):
            raise StubError(
                f"{where}: the stub defines {name}, which the reference does not; the reference is its source"
            )
        source_span = _definition_span(source_node, reference_ends)
        lines = _reindented(
            reference_lines[source_span.start : source_span.end], source_node.col_offset, node.col_offset
        )
        found.append(Replacement(name, _definition_span(node, stub_ends), lines))
    return found


def generated_stub(reference: str, stub: str, where: Path) -> tuple[str, list[str]]:
    """The stub's source with every header and docstring taken from the reference.

    Returns the new source and the names ('module docstring', 'conv_forward_naive',
    'LeNet5.forward') whose text changed, in the order they stand in the stub.
    """
    lines = stub.splitlines(keepends=True)
    changed = []
    for replacement in sorted(replacements(reference, stub, where), key=lambda r: r.span.start, reverse=True):
        span = replacement.span
        if lines[span.start : span.end] != replacement.lines:
            lines[span.start : span.end] = replacement.lines
            changed.append(replacement.name)
    new_source = "".join(lines)
    try:
        ast.parse(new_source)
    except SyntaxError as error:
        raise StubError(
            f"{where}: the generated stub does not parse ({error}); give each stub function a body"
        ) from None
    return new_source, changed[::-1]


# ---------------------------------------------------------------------------- assignments


def sync_assignment(spec: AssignmentSpec, *, write: bool, root: Path = KIT_ROOT) -> list[Difference]:
    """Compare (and with write=True, regenerate) every stub file of one assignment.

    Inputs: spec; write, whether to rewrite the stubs that differ; root, the kit
    folder holding assignments/ and reference/ (a copy in tests).
    Returns the differences found, each naming the stub file and the function.
    Stub files without a reference file of the same name (none today) are skipped.
    """
    differences = []
    for file_name in spec.files:
        stub_path = root / "assignments" / spec.name / file_name
        reference_path = root / "reference" / spec.name / file_name
        if not reference_path.is_file():
            continue
        where = stub_path.relative_to(root)
        new_source, changed = generated_stub(reference_path.read_text(), stub_path.read_text(), where)
        differences += [Difference(where, name) for name in changed]
        if write and changed:
            stub_path.write_text(new_source)
    return differences


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a stub differs")
    parser.add_argument("--assignment", choices=sorted(ASSIGNMENTS), help="one assignment (default: all)")
    parser.add_argument("--root", type=Path, default=KIT_ROOT, help="the kit folder (default: this kit)")


def run(args: argparse.Namespace) -> int:
    specs = [ASSIGNMENTS[args.assignment]] if args.assignment else list(ASSIGNMENTS.values())
    try:
        differences = [d for spec in specs for d in sync_assignment(spec, write=not args.check, root=args.root)]
    except StubError as error:
        print(f"stubs: {error}", file=sys.stderr)
        return 1
    if args.check:
        for difference in differences:
            print(f"stubs: {difference} differs from the reference", file=sys.stderr)
        if differences:
            print("stubs: run `python -m autograder stubs` to regenerate them", file=sys.stderr)
        else:
            print("stubs: every stub header and docstring matches the reference")
        return 1 if differences else 0
    for difference in differences:
        print(f"stubs: rewrote {difference}")
    print(f"stubs: {len(differences)} header(s) or docstring(s) rewritten from the reference")
    return 0
