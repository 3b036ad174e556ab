#!/usr/bin/env python3
"""small_files.py DIR COUNT [SEED]: a deterministic tree of COUNT files of
1 to 16 KiB (the same bytes, names, modes and mtimes for the same COUNT and
SEED), 100 files a directory, 20 directories a level: the many-small-files
case of tests/integration/files_parallel.sh and tests/bench/small_files.sh.
Content is pseudo-random (incompressible) except every 8th file, text-like."""
import os
import random
import sys

root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
modes = (0o644, 0o600, 0o755, 0o444, 0o640)
dirs = []
for i in range(count):
    d, k = divmod(i, 100)
    path = os.path.join(root, "d%02d" % (d // 20), "e%03d" % d)
    if k == 0:
        os.makedirs(path, exist_ok=True)
        dirs.append(path)
    size = rng.randint(1024, 16384)
    if i % 8 == 7:
        words = [b"alpha", b"beta", b"gamma", b"delta", b"%d" % i]
        data = b" ".join(rng.choice(words) for _ in range(size // 4))[:size]
    else:
        data = rng.randbytes(size)
    name = os.path.join(path, "f%06d.dat" % i)
    with open(name, "wb") as f:
        f.write(data)
    os.chmod(name, modes[i % len(modes)])
    t = 1500000000 + rng.randint(0, 200000000)
    os.utime(name, ns=(t * 10**9, t * 10**9 + rng.randint(0, 10**9 - 1)))
for n, path in enumerate(dirs):
    t = 1400000000 + n * 3600
    os.utime(path, ns=(t * 10**9, t * 10**9 + 123456789))
