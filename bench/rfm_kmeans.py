#!/usr/bin/python3
"""The pandas + scikit-learn side of bench/rfm_compare.sh: the same RFM scoring (quintile scores 1-5 by rank)
and K-Means (k=5, k-means++, 4 restarts) on standardised log1p(R, F, M), over the same orders CSV."""
import sys
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

AS_OF = pd.Timestamp("2026-11-01", tz="UTC").timestamp()

def main(path):
    orders = pd.read_csv(path)
    start = time.perf_counter()
    g = orders.groupby("subject")
    rfm = pd.DataFrame({
        "R": (AS_OF - g["ts"].max()) / 86400.0,
        "F": g.size(),
        "M": g["amount"].sum(),
    })
    n = len(rfm)
    rank = lambda s: (s.rank(method="first") - 1).astype(int)
    rfm["r"] = 5 - rank(rfm["R"]) * 5 // n
    rfm["f"] = 1 + rank(rfm["F"]) * 5 // n
    rfm["m"] = 1 + rank(rfm["M"]) * 5 // n
    rfm_s = time.perf_counter() - start
    z = StandardScaler().fit_transform(np.log1p(rfm[["R", "F", "M"]].to_numpy()))
    k0 = time.perf_counter()
    km = KMeans(n_clusters=5, init="k-means++", n_init=4, random_state=1).fit(z)
    total = time.perf_counter() - start
    high = int(((rfm["r"] >= 4) & (rfm["f"] >= 4) & (rfm["m"] >= 4)).sum())
    print(f"python subjects={n} rfm_s={rfm_s:.3f} kmeans_s={time.perf_counter()-k0:.3f} total_s={total:.3f} inertia={km.inertia_:.1f} high_rfm={high}")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "orders.csv")
