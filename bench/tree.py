"""Deterministic source trees for the benchmark.

    python bench/tree.py mixed DIR        # the 40 MiB packaging tree (about 3,000 files)
    python bench/tree.py random DIR SIZE  # index.js plus SIZE bytes of incompressible 1 MiB files
    python bench/tree.py small DIR        # 20,000 small files, the per-file cost

Everything comes from a seeded `random.Random`, so the same call writes the same bytes on every
machine (Python 3.9 or later): the file list and a SHA-256 of the contents are printed to check.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
from pathlib import Path

MIB = 1024 * 1024
SEED = 20251125

# Words for JS-like text: identifiers, keywords and punctuation in the proportions of bundled
# node_modules code, so the text compresses about as well as real code (4-5x at level 6).
_KEYWORDS = ["const", "let", "var", "function", "return", "if", "else", "for", "while", "new",
             "this", "typeof", "null", "undefined", "true", "false", "async", "await", "export",
             "import", "from", "module.exports", "require", "throw", "catch", "try"]
_OPS = ["=", "===", "!==", "+", "-", "&&", "||", "?", ":", "=>", "+=", "<", ">"]


def _identifiers(rng: random.Random, n: int) -> list[str]:
    syllables = ["get", "set", "on", "is", "has", "to", "from", "make", "parse", "read", "write",
                 "value", "node", "list", "map", "key", "item", "index", "path", "opts", "config",
                 "buffer", "stream", "event", "error", "result", "data", "name", "type", "cache",
                 "request", "response", "header", "body", "url", "query", "token", "state"]
    out = set()
    while len(out) < n:
        parts = [rng.choice(syllables) for _ in range(rng.randint(1, 3))]
        out.add(parts[0] + "".join(p.capitalize() for p in parts[1:]) + (str(rng.randint(0, 9)) if rng.random() < 0.2 else ""))
    return sorted(out)


def _js_line(rng: random.Random, ids: list[str], depth: int) -> str:
    pad = "  " * depth
    a, b, c = rng.choice(ids), rng.choice(ids), rng.choice(ids)
    kind = rng.random()
    if kind < 0.25:
        return f"{pad}const {a} = {b}.{c}({rng.choice(ids)}, {rng.randint(0, 4096)});"
    if kind < 0.40:
        return f"{pad}if ({a} {rng.choice(_OPS)} {b}) {{ return {c}; }}"
    if kind < 0.52:
        return f"{pad}function {a}({b}, {c}) {{"
    if kind < 0.62:
        return f"{pad}}}"
    if kind < 0.72:
        return f"{pad}// {' '.join(rng.choice(ids) for _ in range(rng.randint(3, 9)))}"
    if kind < 0.82:
        return f"{pad}{a}.{b} = '{rng.choice(ids)}-{rng.randint(0, 99999)}';"
    if kind < 0.90:
        return f"{pad}{rng.choice(_KEYWORDS)} {a} {rng.choice(_OPS)} {b}[{rng.randint(0, 64)}];"
    return f"{pad}module.exports.{a} = require('./{b}/{c}.js');"


def _js_text(rng: random.Random, ids: list[str], size: int) -> bytes:
    lines, total = ["'use strict';"], 14
    while total < size:
        line = _js_line(rng, ids, rng.randint(0, 4))
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()[:size]


def mixed(root: Path, text_bytes: int = 30 * MIB, binary_bytes: int = 10 * MIB) -> None:
    """About 3,000 files: JS-like text (compressible) and random binaries (incompressible)."""
    rng = random.Random(SEED)
    ids = _identifiers(rng, 600)
    packages = [f"{rng.choice(ids).lower()}-{i}" for i in range(120)]
    subdirs = ["lib", "dist", "src", "lib/internal", "dist/esm", "dist/cjs"]

    def place(ext: str) -> Path:
        pkg = rng.choice(packages)
        return root / "node_modules" / pkg / rng.choice(subdirs) / f"{rng.choice(ids)}-{rng.randint(0, 9999)}.{ext}"

    written = 0
    while written < text_bytes:
        size = min(int(rng.lognormvariate(8.9, 1.0)) + 200, 96 * 1024, text_bytes - written)
        path = place(rng.choice(["js", "js", "js", "mjs", "cjs", "json", "d.ts"]))
        _write(path, _js_text(rng, ids, size), executable=rng.random() < 0.01)
        written += size
    written = 0
    while written < binary_bytes:
        size = min(rng.randint(4 * 1024, 160 * 1024), binary_bytes - written)
        path = place(rng.choice(["png", "woff2", "wasm", "node", "gz"]))
        _write(path, rng.randbytes(size), executable=False)
        written += size
    _write(root / "index.js", b"exports.handler = async (event) => event.Records[0].cf.request;\n", False)


def random_tree(root: Path, size: int, chunk: int = MIB) -> None:
    """index.js plus `size` bytes of random data in files of at most `chunk` bytes: the zip is as large."""
    rng = random.Random(SEED + size)
    _write(root / "index.js", b"exports.handler = async (event) => event.Records[0].cf.request;\n", False)
    i = 0
    while size > 0:
        n = min(chunk, size)
        _write(root / "assets" / f"blob-{i:03}.bin", rng.randbytes(n), False)
        size -= n
        i += 1


def small_files(root: Path, files: int = 20_000) -> None:
    """`files` small JS-like modules (200 bytes to 2 KiB) in 200 directories: what a node_modules
    of many tiny packages looks like, where the cost is per file, not per byte."""
    rng = random.Random(SEED + files)
    words = _identifiers(rng, 400)
    for i in range(files):
        size = rng.randint(200, 2048)
        text, parts = [], 0
        while parts < size:
            w = rng.choice(words)
            text.append(w)
            parts += len(w) + 1
        body = ("module.exports = function " + " ".join(text) + ";\n").encode()
        _write(root / f"pkg{i % 200:03}" / f"m{i:05}.js", body, False)


def _write(path: Path, data: bytes, executable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():  # a name drawn twice: keep the first file, the sizes stay close enough
        return
    path.write_bytes(data)
    os.chmod(path, 0o755 if executable else 0o644)


def describe(root: Path) -> tuple[int, int, str]:
    """Files, bytes and a SHA-256 over names and contents: the same on every machine."""
    digest, files, total = hashlib.sha256(), 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath, name)
            data = p.read_bytes()
            digest.update(str(p.relative_to(root)).encode() + b"\0" + hashlib.sha256(data).digest())
            files += 1
            total += len(data)
    return files, total, digest.hexdigest()


if __name__ == "__main__":
    kind, target = sys.argv[1], Path(sys.argv[2])
    if kind == "mixed":
        mixed(target)
    elif kind == "random":
        random_tree(target, int(sys.argv[3]))
    elif kind == "small":
        small_files(target)
    else:
        sys.exit(__doc__)
    files, total, digest = describe(target)
    print(f"{files} files, {total} bytes, sha256 {digest}")
