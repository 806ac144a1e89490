"""The kernels sit below the models: nothing under textgan/kernels imports textgan.models (or anything of
textgan's above it), the models read no environment variable, and sampling does not reach into the models."""

import ast
from pathlib import Path

TEXTGAN = Path(__file__).resolve().parents[2] / "textgan"
KERNELS_MAY_IMPORT = ("textgan.kernels", "textgan.config_ranges")


def imported_modules(path: Path) -> list[str]:
    """Every module an ``import`` or ``from ... import`` in the file names (at any depth, TYPE_CHECKING too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names if node.module == "textgan"]
    return names


def test_the_kernels_import_nothing_of_textgan_above_them():
    files = sorted((TEXTGAN / "kernels").rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in imported_modules(path):
            if name.startswith("textgan"):
                assert name.startswith(KERNELS_MAY_IMPORT), f"{path.name} imports {name}"


def test_the_models_read_no_environment_and_sampling_no_models():
    for path in sorted((TEXTGAN / "models").rglob("*.py")):
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text and "TEXTGAN_NATIVE" not in text, path.name
    assert not any(name.startswith("textgan.models") for name in imported_modules(TEXTGAN / "sampling.py"))


def test_only_the_policy_reads_textgan_native():
    """The string ``"TEXTGAN_NATIVE"`` as a value (not in prose) appears in the policy, which reads it, and in the
    FLOP count, which sets it to count the torch formulation."""
    users = sorted(
        path.relative_to(TEXTGAN).as_posix()
        for path in TEXTGAN.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value == "TEXTGAN_NATIVE"
    )
    assert users == ["benchmarks/flops.py", "kernels/policy.py"]
