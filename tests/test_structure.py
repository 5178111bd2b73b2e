"""The shape of the code: imports flow one way (import-linter's contracts), no circle of imports
between files, only the natural pairs of areas import each other, and no module past 400 lines."""

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "tasks", "sandbox", "bench")
MAX_LINES = 400

# Areas under app/ that import each other, each for a reason of the domain (README, Architecture):
# access decides from keys, corporations and services, and each of those asks access to reconcile
# what changed; accounts sign in by key, character and tracking token and those name the account;
# a key check reads and renews tracking tokens (compliance); OpenID Connect is a kind of service
# whose claims carry the service's groups.
MUTUAL_AREAS = {
    ("access", "corps"),
    ("access", "keys"),
    ("access", "services"),
    ("accounts", "compliance"),
    ("accounts", "corps"),
    ("accounts", "keys"),
    ("compliance", "keys"),
    ("oidc", "services"),
}


@pytest.fixture(scope="module")
def graph():
    """The import graph of the project's packages, built once for the tests that read it."""
    return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)


def mutual_packages(graph, root="app"):
    """Pairs of packages right below root (sorted names) in which each imports the other."""

    def area(module):
        parts = module.split(".")
        return parts[1] if parts[0] == root and len(parts) > 1 else None

    edges = set()
    for module in graph.modules:
        if (source := area(module)) is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if (target := area(imported)) not in (None, source):
                edges.add((source, target))
    return {tuple(sorted(edge)) for edge in edges if edge[::-1] in edges}


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_circle_of_imports_between_files(graph):
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    assert _cycles(edges) == []


def test_only_the_natural_pairs_of_areas_import_each_other(graph):
    assert mutual_packages(graph) <= MUTUAL_AREAS
    assert len(MUTUAL_AREAS) <= 9


def test_the_pair_finder_finds_a_pair():
    class Graph:
        modules = {"app.a.x", "app.b.y", "app.c.z", "app.clock"}
        imports = {"app.a.x": {"app.b.y"}, "app.b.y": {"app.a.x", "app.clock"}, "app.c.z": {"app.a.x"}}

        def find_modules_directly_imported_by(self, module):
            return self.imports.get(module, set())

    assert mutual_packages(Graph()) == {("a", "b")}


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_longer_than_400_lines():
    long = {
        str(path.relative_to(ROOT)): count
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
