#!/usr/bin/env python3
"""make_tree.py DIR -- recreate the source tree of the golden repository.

Byte for byte, with the same modes and mtimes (to the nanosecond), on every
run and every machine: all content comes from SHA-256 in counter mode, no
PRNG whose output could change between Python versions. tree.manifest is
what tests/lib/common.sh's tree_manifest prints for the result.

DIR must not exist yet. Changing anything here changes the golden data:
it must then be regenerated with make.sh (a deliberate format change).
"""
import hashlib
import os
import sys


def stream(label, n):
    """n pseudo-random bytes: SHA-256(label || u64 LE counter), concatenated."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(label + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def genome(n):
    """n bytes of 'ACGT' text in lines of 64 letters: pseudo-random, so the
    chunker cuts it at content-defined places, yet 2 bits of entropy per
    letter, so zstd shrinks it to about a quarter (the repository stays
    small while the file spans several chunks)."""
    letters = [bytes(b"ACGT"[(b >> s) & 3] for s in (0, 2, 4, 6)) for b in range(256)]
    raw = stream(b"arca-golden-v2 genome", n // 4 + 1)
    text = b"".join(letters[b] for b in raw)
    out = bytearray()
    for i in range(0, len(text), 64):
        out += text[i:i + 64] + b"\n"
    return bytes(out[:n])


# (path, content, mode, mtime in ns); directories have content None.
T0 = 1700000000 * 10**9
FILES = [
    (b"empty", b"", 0o644, T0 + 1),
    (b"hello.txt", b"Hello from the arca golden repository, format version 2.\n",
     0o644, T0 + 123456789),
    (b"genome.txt", genome(3 * 1048576 + 4321), 0o644, T0 + 2 * 10**9 + 5),
    (b"noise.bin", stream(b"arca-golden-v2 noise", 65536 + 7), 0o600, T0 + 3 * 10**9),
    (b"caf\xe9-latin1.txt", b"a file whose name is latin-1, not UTF-8\n", 0o640,
     T0 + 4 * 10**9 + 999999999),
    (b"sub/nested.txt", b"nested\n", 0o444, T0 + 5 * 10**9 + 42),
]
SYMLINKS = [(b"link-to-hello", b"hello.txt", T0 + 6 * 10**9 + 7)]
HARDLINKS = [(b"sub/hello-hardlink", b"hello.txt")]
DIRS = [(b"sub", 0o750, T0 + 7 * 10**9 + 77)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_tree.py DIR")
    root = os.fsencode(sys.argv[1])
    os.makedirs(root)
    for d, _, _ in DIRS:
        os.makedirs(os.path.join(root, d))
    for path, data, mode, mtime in FILES:
        p = os.path.join(root, path)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        os.utime(p, ns=(mtime, mtime))
    for path, target in HARDLINKS:
        os.link(os.path.join(root, target), os.path.join(root, path))
    for path, target, mtime in SYMLINKS:
        p = os.path.join(root, path)
        os.symlink(target, p)
        os.utime(p, ns=(mtime, mtime), follow_symlinks=False)
    for d, mode, mtime in DIRS:   # last: creating entries changes a dir's mtime
        p = os.path.join(root, d)
        os.chmod(p, mode)
        os.utime(p, ns=(mtime, mtime))


if __name__ == "__main__":
    main()
