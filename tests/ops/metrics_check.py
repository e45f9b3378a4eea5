#!/usr/bin/python3
"""Checks on vhost-switch's Prometheus output (tests/ops/test-metrics.sh).

metrics_check.py parse FILE            -> prints "family type samples" lines
metrics_check.py value FILE NAME K=V.. -> the sum of the samples NAME{K=V..}
metrics_check.py monotonic OLD NEW     -> every counter sample in NEW >= OLD
metrics_check.py histogram FILE FAMILY PACKETS
                                       -> buckets cumulative, +Inf == _count,
                                          _count == the PACKETS sample with
                                          the same labels (the queue's)
Exit status 1 with a message on failure.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def families(path):
    with open(path, encoding="utf-8") as f:
        return list(text_string_to_metric_families(f.read()))


def samples(path):
    out = {}
    for fam in families(path):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = (fam.type, s.value)
    return out


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "parse":
        for fam in families(args[0]):
            print(fam.name, fam.type, len(fam.samples))
    elif cmd == "value":
        want = dict(a.split("=", 1) for a in args[2:])
        total = 0
        for fam in families(args[0]):
            for s in fam.samples:
                if s.name == args[1] and all(s.labels.get(k) == v for k, v in want.items()):
                    total += s.value
        print(int(total))
    elif cmd == "monotonic":
        old, new = samples(args[0]), samples(args[1])
        for key, (typ, value) in old.items():
            if typ not in ("counter", "histogram") or key not in new:
                continue
            if new[key][1] < value:
                fail("counter went down: %s %s -> %s" % (key, value, new[key][1]))
        print("monotonic: %d samples compared" % len(old))
    elif cmd == "histogram":
        fams = [f for f in families(args[0]) if f.name == args[1]]
        if not fams or fams[0].type != "histogram":
            fail("no histogram family %s" % args[1])
        series = {}
        for s in fams[0].samples:
            labels = {k: v for k, v in s.labels.items() if k != "le"}
            key = tuple(sorted(labels.items()))
            series.setdefault(key, {"buckets": []})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
            elif s.name.endswith("_sum"):
                series[key]["sum"] = s.value
        for key, h in series.items():
            b = h["buckets"]
            if not b or b[-1][0] != float("inf"):
                fail("%s: no +Inf bucket" % (key,))
            for (le0, v0), (le1, v1) in zip(b, b[1:]):
                if le1 <= le0 or v1 < v0:
                    fail("%s: buckets not cumulative at le=%s" % (key, le1))
            if b[-1][1] != h.get("count"):
                fail("%s: +Inf %s != _count %s" % (key, b[-1][1], h.get("count")))
        packets = {}
        for fam in families(args[0]):
            for s in fam.samples:
                if s.name == args[2]:
                    packets[tuple(sorted(s.labels.items()))] = s.value
        counted = 0
        for key, h in series.items():
            if key not in packets:
                fail("%s: no %s sample" % (key, args[2]))
            if packets[key] != h["count"]:
                fail("%s: _count %s != packets %s" % (key, h["count"], packets[key]))
            counted += h["count"]
        if counted == 0:
            fail("histograms counted nothing")
        print("histogram: %d series, cumulative, _count == packets (%d)" % (len(series), counted))
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
