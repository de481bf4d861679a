#!/usr/bin/python3
"""Independent reference for `mixq calibrate --cali_method kl|max`: TPU-MLIR's
run_calibration.py statistics re-implemented with numpy, the way kld_calibrator.py does
them (np.float32 running min/max, np.histogram of floor(|x|/width+0.5), the
combine_histogram extension rule, calibration_math's float KL), applied to activations
dumped per sample by `mixq run --dump_all` (keys = TPU-MLIR layer names).

Usage: calib_reference.py TABLE.txt DUMP0.npz DUMP1.npz ...   (dumps in sample order)
Prints per-layer differences against TABLE (mixq's output) and exits 1 on a mismatch.
"""
import math
import sys

import numpy as np

BINS = 2048


def histogram(x, abs_max, bin_num):
    t = np.abs(x.flatten())
    t = t[t != 0]
    width = abs_max / (bin_num - 1)
    if t.size > 0:
        hist, _ = np.histogram(np.floor(t / width + 0.5), bins=bin_num, range=(0, bin_num - 1), density=False)
    else:
        hist = np.zeros(bin_num)
    return hist.astype(np.int32), width


def combine(old, x, new_th):
    hist_old, width_old, th_old = old
    if new_th <= th_old:
        hist, _ = histogram(x, th_old, len(hist_old))
        return hist_old + hist, width_old, th_old
    old_n = len(hist_old)
    step = th_old / old_n
    grow = int((new_th - th_old) // step + 1)
    new_n = grow + old_n
    new_th = grow * step + th_old
    hist, width = histogram(x, new_th, new_n)
    hist[0:old_n] += hist_old
    return hist, width, new_th


def kl_threshold(hist, width, target=128):
    n = len(hist)
    if n % target:
        hist = np.concatenate([hist, np.zeros(target - n % target, hist.dtype)])
        n = len(hist)
    h = hist.astype(np.int64)
    count = np.float32(h.sum())
    kls = []
    for i in range(target, n + 1, target):
        P = h[:i].astype(np.float32)
        tail = np.float32(0)
        for v in h[i - 1:]:
            tail = np.float32(tail + np.float32(v))
        P[i - 1] = tail
        P = (P / count).astype(np.float32)
        s = np.float32(0)
        for v in h[:i]:
            s = np.float32(s + np.float32(v))
        Q = np.zeros(i, np.float32)
        chunk = i // target
        for j in range(target):
            seg = h[j * chunk:(j + 1) * chunk]
            sb = np.float32(0)
            pc = np.float32(0)
            for v in seg:
                sb = np.float32(sb + np.float32(v))
                pc = np.float32(pc + (1 if v > 0 else 0))
            pc = np.float32(1) if pc == 0 else pc
            qb = np.float32(np.float32(sb / pc) / s)
            Q[j * chunk:(j + 1) * chunk] = np.where(seg != 0, qb, np.float32(0))
        terms = P.astype(np.float64) * (np.log10(P.astype(np.float64) + 1e-30) - np.log10(Q.astype(np.float64) + 1e-30))
        acc = np.float32(0)
        for t in terms:
            acc = np.float32(float(acc) + float(t))
        kls.append(acc)
    best = 0
    for k in range(1, len(kls)):
        if kls[best] > kls[k]:
            best = k
    return np.float32(np.float32(np.float32(width) * np.float32(best + 1)) * np.float32(target))


def main():
    table, dumps = sys.argv[1], sys.argv[2:]
    stats = {}
    for path in dumps:
        arrays = np.load(path)
        for name in arrays.files:
            x = arrays[name].astype(np.float32)
            mn, mx = (np.min(x), np.max(x))
            if name in stats:
                mn = min(mn, stats[name]["min"])
                mx = max(mx, stats[name]["max"])
            absv = max(abs(mn), abs(mx))
            if name not in stats:
                h, w = histogram(x, absv, BINS)
                stats[name] = {"min": mn, "max": mx, "hist": (h, w, absv)}
            else:
                stats[name]["min"], stats[name]["max"] = mn, mx
                stats[name]["hist"] = combine(stats[name]["hist"], x, absv)
    bad = 0
    rows = 0
    for line in open(table):
        if line.startswith("#"):
            continue
        name, th, mn, mx = line.split()
        if name not in stats:
            continue
        s = stats[name]
        absv = max(abs(s["min"]), abs(s["max"]))
        if absv <= 1e-5:
            ref = 1e-5
        else:
            h, w, _ = s["hist"]
            ref = float(kl_threshold(h, w))
            ref = min(ref, float(absv)) if ref <= float(absv) else float(absv)
        want = "{:.7f} {:.7f} {:.7f}".format(ref, s["min"], s["max"]) if absv > 1e-5 else None
        got = "{} {} {}".format(th, mn, mx)
        rows += 1
        if want is not None and want != got:
            bad += 1
            print("MISMATCH {}: mixq {} reference {}".format(name, got, want))
    print("compared {} rows, {} mismatches".format(rows, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
