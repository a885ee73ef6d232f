"""GEMM peer for bench/gemm.ts: torch.mm on the CPU in fp32 with the given thread count.
Usage: gemm.py THREADS MIN_SECONDS PRODUCTS_JSON, where PRODUCTS_JSON is a list of {m, n, k, transA, transB}
(transA: A is stored k x m and used transposed, as a strided view; transB likewise for B stored n x k).
Prints one JSON line: {"torch": version, "blas": library, "gflops": [best GFLOP/s per product]}."""
import json
import sys
import time

import torch


def blas_library():
    """The BLAS shared object torch resolved at load (Debian's alternatives decide which)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libblas" in line or "openblas" in line or "mkl" in line:
                return line.split()[-1]
    return "unknown"


def best_gflops(product, min_seconds):
    m, n, k = product["m"], product["n"], product["k"]
    a = torch.rand(k, m).t() if product["transA"] else torch.rand(m, k)
    b = torch.rand(n, k).t() if product["transB"] else torch.rand(k, n)
    a.mul_(2).sub_(1)
    b.mul_(2).sub_(1)
    c = torch.empty(m, n)
    torch.mm(a, b, out=c)
    best = float("inf")
    spent = 0.0
    runs = 0
    while runs < 3 or spent < min_seconds:
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return 2.0 * m * n * k / best / 1e9


def main():
    threads = int(sys.argv[1])
    min_seconds = float(sys.argv[2])
    products = json.loads(sys.argv[3])
    torch.set_num_threads(threads)
    gflops = [best_gflops(p, min_seconds) for p in products]
    print(json.dumps({"torch": torch.__version__, "blas": blas_library(), "gflops": gflops}))


if __name__ == "__main__":
    main()
