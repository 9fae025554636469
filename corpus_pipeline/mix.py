"""Weighted training mixtures (GPT-3 section 2.2, Table 2.2): the plan and the draw rules.

Consumes a `MixConfig` and the tokens available in each dataset (declared in the config for
a plan without data, measured with the GPT-2 tokenizer by a build). Produces a `Plan`: per
dataset the weight used, the tokens drawn, the epochs elapsed, and how the draw splits
into full passes and a partial last pass, with every inconsistency flagged. Also the
per-document draw rules that `corpus_pipeline/spark/mix.py` applies at scale, and
`draw_reference`, the same rules in plain Python for small inputs and tests.

GPT-3 gives each dataset a weight, the fraction of training drawn from it, so small
high-quality sets repeat and large ones are seen less than once ("epochs elapsed when
training for 300B tokens"). Rules here:
- weight wins: a dataset's tokens drawn = weight / (sum of weights) x budget; a declared
  epochs figure is only checked against it. A dataset with only `epochs` gets
  weight = epochs x tokens available / budget.
- Weights not summing to 1 (the paper's sum to 1.01) are normalised when within
  `weight_sum_tolerance`, and refused beyond it. Tokens drawn are whole tokens that sum
  exactly to the budget (largest remainders, computed on exact fractions).
- Pass p of a dataset orders all its documents by a hash of (seed, dataset, p, id). Full
  passes take every document (without replacement, GPT-3 Appendix B); the last, partial
  pass takes documents in its order while the tokens taken before them are below the
  remainder, so the document that crosses the boundary is included: a dataset gets its
  target plus less than one document.
- Order in the mixture: each dataset is a stream (pass 0, pass 1, ... each in its own
  order); a document sits at fraction (tokens of the stream before it) / (tokens drawn)
  of training. Sorting all documents by that fraction spreads each dataset evenly over
  training at its weight, and makes "epochs elapsed" true at every point of training.
  Ties (the first document of each stream) break on a hash of (seed, dataset, pass, id).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping

from . import hashing
from .config import MixConfig, MixDataset

KEY_BITS = 63  # order keys are non-negative 63-bit integers: they fit a Spark long


@dataclass(frozen=True)
class DatasetPlan:
    name: str
    tokens_available: int
    weight_declared: float  # 0 = not given
    epochs_declared: float  # 0 = not given
    weight_from: str  # "weight" or "epochs": which declared figure set the weight
    weight: Fraction  # normalised: the weights used sum to exactly 1
    tokens_drawn: int  # the target; a build realises it plus less than one document

    @property
    def epochs(self) -> float:
        return self.tokens_drawn / self.tokens_available if self.tokens_available else math.inf

    @property
    def full_passes(self) -> int:
        return self.tokens_drawn // self.tokens_available if self.tokens_available else 0

    @property
    def remainder_tokens(self) -> int:
        """Tokens the partial last pass must reach (0: the draw ends on an epoch boundary)."""
        return self.tokens_drawn - self.full_passes * self.tokens_available

    @property
    def passes(self) -> int:
        return self.full_passes + (1 if self.remainder_tokens else 0)

    @property
    def epochs_deviation(self) -> float | None:
        """Planned epochs relative to the declared figure, minus 1 (None: none declared)."""
        return self.epochs / self.epochs_declared - 1 if self.epochs_declared else None


@dataclass(frozen=True)
class Plan:
    total_tokens: int
    seed: int
    datasets: tuple[DatasetPlan, ...]
    weight_sum: Fraction  # of the raw weights, before normalising
    warnings: tuple[str, ...]
    errors: tuple[str, ...]  # a build refuses a plan with errors

    def dataset(self, name: str) -> DatasetPlan:
        return next(d for d in self.datasets if d.name == name)


# ---- planning


def exact(value: float) -> Fraction:
    """The decimal the user wrote (0.22, not the binary float nearest to it)."""
    return Fraction(repr(float(value)))


def raw_weight(dataset: MixDataset, available: int, budget: int) -> Fraction:
    if dataset.weight:
        return exact(dataset.weight)
    return exact(dataset.epochs) * available / budget


def split_budget(weights: list[Fraction], budget: int) -> list[int]:
    """Whole tokens per weight, proportional, summing exactly to the budget: floors first,
    then one more token to the largest remainders (ties to the earlier dataset)."""
    total = sum(weights)
    shares = [w * budget / total for w in weights]
    drawn = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - drawn[i]), i))
    for i in by_remainder[:budget - sum(drawn)]:
        drawn[i] += 1
    return drawn


def plan_mixture(cfg: MixConfig, available: Mapping[str, int]) -> Plan:
    """The plan for `available` tokens per dataset (declared or measured)."""
    raws = [raw_weight(d, available.get(d.name, 0), cfg.total_tokens) for d in cfg.datasets]
    weight_sum = sum(raws)
    warnings, errors = weight_sum_flags(weight_sum, cfg.weight_sum_tolerance)
    drawn = split_budget(raws, cfg.total_tokens) if weight_sum > 0 else [0] * len(raws)
    datasets = tuple(
        DatasetPlan(d.name, available.get(d.name, 0), d.weight, d.epochs, "weight" if d.weight else "epochs",
                    w / weight_sum if weight_sum else Fraction(0), n)
        for d, w, n in zip(cfg.datasets, raws, drawn))
    for d in datasets:
        if d.tokens_available <= 0:
            errors.append(f"dataset {d.name}: no tokens available (declare `tokens`, or the input is empty)")
        else:
            warnings += epochs_flags(d, cfg.total_tokens, cfg.epochs_tolerance)
    return Plan(cfg.total_tokens, cfg.seed, datasets, weight_sum, tuple(warnings), tuple(errors))


def weight_sum_flags(weight_sum: Fraction, tolerance: float) -> tuple[list[str], list[str]]:
    """(warnings, errors) about weights that do not sum to 1."""
    if weight_sum == 1:
        return [], []
    off = abs(weight_sum - 1)
    if off <= exact(tolerance):
        return [f"weights sum to {float(weight_sum):.6g}, not 1: each is divided by {float(weight_sum):.6g} "
                f"(normalised; off by {float(off):.4g}, within weight_sum_tolerance {tolerance:g})"], []
    return [], [f"weights sum to {float(weight_sum):.6g}, not 1: off by {float(off):.4g}, more than "
                f"weight_sum_tolerance {tolerance:g}; refusing to normalise (fix the weights)"]


def epochs_flags(d: DatasetPlan, budget: int, tolerance: float) -> list[str]:
    """A declared epochs figure that the weight does not give (within `tolerance`, relative)."""
    deviation = d.epochs_deviation
    if deviation is None or abs(deviation) <= (tolerance if d.weight_declared else 1e-9):
        return []
    if not d.weight_declared:
        return [f"dataset {d.name}: epochs {d.epochs_declared:g} set its weight, but normalising the "
                f"weights makes it {d.epochs:.3f} epochs"]
    return [f"dataset {d.name}: declared {d.epochs_declared:g} epochs, but weight {float(d.weight):.4f} "
            f"x {budget:,} / {d.tokens_available:,} tokens = {d.epochs:.3f} epochs ({100 * deviation:+.1f}%, "
            f"beyond epochs_tolerance {100 * tolerance:g}%); the weight wins"]


# ---- printing and writing


def plan_dict(plan: Plan) -> dict:
    """JSON form: exact weights as "p/q" strings beside their float values."""
    return {
        "total_tokens": plan.total_tokens, "seed": plan.seed,
        "weight_sum": float(plan.weight_sum), "weight_sum_exact": str(plan.weight_sum),
        "rules": {"weight_wins": True, "normalised": plan.weight_sum != 1, "boundary_document": "included"},
        "datasets": [{
            "name": d.name, "tokens_available": d.tokens_available,
            "weight_declared": d.weight_declared or None, "epochs_declared": d.epochs_declared or None,
            "weight_from": d.weight_from, "weight": float(d.weight), "weight_exact": str(d.weight),
            "tokens_drawn": d.tokens_drawn, "epochs": round(d.epochs, 6) if d.tokens_available else None,
            "epochs_deviation": None if d.epochs_deviation is None else round(d.epochs_deviation, 6),
            "full_passes": d.full_passes, "remainder_tokens": d.remainder_tokens,
        } for d in plan.datasets],
        "warnings": list(plan.warnings), "errors": list(plan.errors),
    }


def format_plan(plan: Plan, title: str = "mixture") -> str:
    lines = [f"{title}: budget {plan.total_tokens:,} tokens ({human(plan.total_tokens)}), seed {plan.seed}",
             f"  {'dataset':<16}{'tokens available':>20}{'weight':>8}{'used':>9}"
             f"{'tokens drawn':>20}{'epochs':>8}{'declared':>10}{'diff':>8}"]
    for d in plan.datasets:
        declared = f"{d.weight_declared:.2%}" if d.weight_declared else "-"
        epochs = f"{d.epochs:.3f}" if d.tokens_available else "inf"
        stated = f"{d.epochs_declared:g}" if d.epochs_declared else "-"
        diff = f"{100 * d.epochs_deviation:+.1f}%" if d.epochs_deviation is not None else ""
        lines.append(f"  {d.name:<16}{d.tokens_available:>20,}{declared:>8}{float(d.weight):>9.2%}"
                     f"{d.tokens_drawn:>20,}{epochs:>8}{stated:>10}{diff:>8}")
    lines.append(f"  weights sum to {float(plan.weight_sum):.6g}; tokens drawn sum to "
                 f"{sum(d.tokens_drawn for d in plan.datasets):,}; weight wins over a declared epochs figure")
    lines += [f"  WARNING {w}" for w in plan.warnings] + [f"  ERROR {e}" for e in plan.errors]
    return "\n".join(lines)


def human(tokens: int) -> str:
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if tokens >= scale:
            return f"{tokens / scale:.4g}{unit}"
    return str(tokens)


# ---- draw rules, per document


def order_key(seed: int, dataset: str, pass_index: int, doc_id: str, salt: str = "draw") -> int:
    """A uniform 63-bit key from a hash of (seed, dataset, pass, id): partition-free."""
    return hashing.uint64(salt, seed, dataset, pass_index, doc_id) >> (64 - KEY_BITS)


def tie_key(seed: int, dataset: str, pass_index: int, doc_id: str) -> int:
    """Breaks ties of stream fraction in the mixture; salted apart from the draw order."""
    return order_key(seed, dataset, pass_index, doc_id, salt="shuffle")


def bucket_of(key: int, buckets: int) -> int:
    """Hash range of a key: monotone in the key, so buckets in order are keys in order."""
    return key >> (KEY_BITS - (buckets.bit_length() - 1))


def takes(d: DatasetPlan, pass_index: int, tokens_before: int) -> bool:
    """Whether pass `pass_index` takes a document preceded by `tokens_before` in its order."""
    if pass_index < d.full_passes:
        return True
    return pass_index == d.full_passes and tokens_before < d.remainder_tokens


def stream_fraction(d: DatasetPlan, pass_index: int, tokens_before: int) -> float:
    """Where in training the document starts: its dataset's tokens before it / tokens drawn."""
    return (pass_index * d.tokens_available + tokens_before) / d.tokens_drawn


def group_offsets(totals: Iterable[tuple[tuple, int, int]]) -> dict[tuple, int]:
    """(group, bucket, total) rows -> {(group, bucket): sum of the group's earlier buckets}."""
    offsets, running = {}, {}
    for group, bucket, total in sorted(totals, key=lambda row: (row[0], row[1])):
        offsets[(group, bucket)] = running.get(group, 0)
        running[group] = running.get(group, 0) + total
    return offsets


def output_files(cfg: MixConfig) -> int:
    return max(1, -(-cfg.total_tokens // cfg.tokens_per_file))


def file_index(position: int, rows: int, files: int) -> int:
    """Even split of positions 0..rows-1 over the files, in order."""
    return position * files // rows


def draw_reference(plan: Plan, docs: Mapping[str, list[tuple[str, int]]]) -> list[tuple[str, str, int, int]]:
    """The whole mixture in plain Python: (dataset, id, epoch, tokens) in position order.
    `docs` maps a dataset to its (id, tokens) documents. For tests and small inputs."""
    rows = []
    for d in plan.datasets:
        for p in range(d.passes):
            before = 0
            for doc_id, tokens in sorted(docs[d.name], key=lambda doc: (order_key(plan.seed, d.name, p, doc[0]), doc[0])):
                if not takes(d, p, before):
                    break
                rows.append(((stream_fraction(d, p, before), tie_key(plan.seed, d.name, p, doc_id), d.name, doc_id, p),
                             (d.name, doc_id, p, tokens)))
                before += tokens
    return [row for _, row in sorted(rows)]


def dry_run(cfg: MixConfig, plan_file: str) -> Plan:
    """jobs/mix.py --dry-run: print and write the plan from the declared tokens, without data."""
    import json
    from pathlib import Path

    from .errors import UserError

    plan = plan_mixture(cfg, {d.name: d.tokens for d in cfg.datasets})
    print(format_plan(plan, "plan"))
    target = Path(plan_file or f"{cfg.output.rstrip('/')}.plan.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(plan_dict(plan), indent=2) + "\n")
    print(f"  plan written to {target}")
    if plan.errors:
        raise UserError("; ".join(plan.errors))
    return plan


def format_summary(manifest: dict, seconds: float, output: str) -> str:
    """What jobs/mix.py prints after a build: per dataset, what was available and drawn."""
    files = f"{manifest['files']} file{'' if manifest['files'] == 1 else 's'}"
    lines = [f"corpus-pipeline mix: {manifest['docs']:,} documents, {manifest['tokens']:,} tokens "
             f"in {files}, seed {manifest['seed']}, in {seconds:.1f} s",
             f"  {'dataset':<16}{'docs avail':>11}{'tokens avail':>14}{'weight':>8}{'target':>12}"
             f"{'drawn':>12}{'share':>8}{'docs':>8}{'epochs':>8}"]
    for d in manifest["datasets"]:
        lines.append(f"  {d['name']:<16}{d['docs_available']:>11,}{d['tokens_available']:>14,}{d['weight']:>8.2%}"
                     f"{d['tokens_drawn']:>12,}{d['tokens_drawn_realised']:>12,}{d['share_realised']:>8.2%}"
                     f"{d['docs_drawn']:>8,}{d['epochs_realised']:>8.3f}")
    lines += [f"  WARNING {w}" for w in manifest["plan"]["warnings"]]
    lines += [f"  NOTE {d['name']}: declared {d['tokens_declared']:,} tokens, measured {d['tokens_available']:,}"
              for d in manifest["datasets"] if d["tokens_declared"] and d["tokens_declared"] != d["tokens_available"]]
    lines.append(f"  output {output}")
    return "\n".join(lines)
