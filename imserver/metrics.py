"""Prometheus text exposition (format 0.0.4) without a client library: counters, gauges, histograms."""
from __future__ import annotations

import bisect

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    def __init__(self, name: str, help_text: str, buckets=LATENCY_BUCKETS_S):
        self.name, self.help, self.buckets = name, help_text, tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for bound, n in zip(self.buckets, self.counts):
            acc += n
            out.append(f'{self.name}_bucket{{le="{bound}"}} {acc}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{self.name}_sum {self.sum:.6f}")
        out.append(f"{self.name}_count {self.count}")
        return out


class Metrics:
    def __init__(self):
        self.counters: dict[str, tuple[str, dict]] = {}
        self.gauges: dict[str, tuple[str, callable]] = {}
        self.hists: dict[str, Histogram] = {}
        for name, help_text in (
            ("imserver_connections_total", "WebSocket connections accepted"),
            ("imserver_messages_in_total", "messages durably stored (acked sends, duplicates excluded)"),
            ("imserver_messages_duplicate_total", "sends answered from an earlier commit (same client_msg_id)"),
            ("imserver_messages_out_total", "msg frames pushed to local connections"),
            ("imserver_frames_in_total", "client frames received"),
            ("imserver_errors_total", "error frames sent and policy closes, by code"),
            ("imserver_fanout_publish_errors_total", "pub/sub publishes that failed (best effort)"),
            ("imserver_commit_batches_total", "group-commit transactions"),
            ("imserver_commit_ops_total", "operations committed in group-commit transactions"),
            ("imserver_retention_deleted_total", "messages deleted by the retention job"),
            ("imserver_admin_calls_total", "admin API calls, by action and HTTP status"),
        ):
            self.counters[name] = (help_text, {})
        self.ack_latency = self.hists["imserver_ack_latency_seconds"] = Histogram(
            "imserver_ack_latency_seconds", "send frame received to ack written")
        self.commit_latency = self.hists["imserver_commit_latency_seconds"] = Histogram(
            "imserver_commit_latency_seconds", "duration of one group-commit transaction")

    def inc(self, name: str, value: float = 1, **labels) -> None:
        key = tuple(sorted(labels.items())) if labels else ()
        series = self.counters[name][1]
        series[key] = series.get(key, 0) + value

    def get(self, name: str, **labels) -> float:
        return self.counters[name][1].get(tuple(sorted(labels.items())), 0)

    def gauge(self, name: str, help_text: str, fn) -> None:
        self.gauges[name] = (help_text, fn)

    def render(self) -> str:
        out: list[str] = []
        for name, (help_text, series) in self.counters.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            if not series:
                out.append(f"{name} 0")
            for key, value in sorted(series.items()):
                labels = ",".join(f'{k}="{v}"' for k, v in key)
                out.append(f"{name}{{{labels}}} {value:g}" if labels else f"{name} {value:g}")
        for name, (help_text, fn) in self.gauges.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {fn():g}"]
        for h in self.hists.values():
            out += h.render()
        return "\n".join(out) + "\n"
