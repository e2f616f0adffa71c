"""Benchmark reading 活动成效 figures (service/extract/metrics.py) per text, with and without shapes (effect_shapes.py).

Run: python bench/bench_metrics.py [--texts 20000] [--repeat 3]. Prints a table and writes
bench/results/metrics.json.

A template is a text with its digits made 0; effect_shapes.py keeps a template's reading (its shape) from
its second text on. Three mixes, each timed as CPU per text (best of --repeat):
- repeated phrasings: the corpus's six 活动成效 phrasings with random numbers (what backlog.py
  reads: after the first two texts of each, every text is a hit);
- one-off phrasings: every text its own template (the same phrasings, each with a unique tag), so
  no shape is ever used: the worst case, where shapes only cost their bookkeeping;
- the full reading of the repeated mix, as every text was read before shapes.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, print_table, write_json  # noqa: E402
from bench.corpus import ACTIVITIES  # noqa: E402
from service.extract import effect_shapes, metrics  # noqa: E402
from service.extract.effect_figures import read_in_full  # noqa: E402

TAG_CHARACTERS = "东南西北中春夏秋冬年货节网上直播商城乡村特产好物"


def repeated_texts(rng: random.Random, count: int) -> list[str]:
    """活动成效 texts as bench/corpus.py writes them: six phrasings, random numbers."""
    texts = []
    for _ in range(count):
        _, _, effect = ACTIVITIES[rng.randrange(len(ACTIVITIES))]
        texts.append(effect.format(p=rng.randint(8, 160), g=rng.randint(50, 3000), s=rng.randint(20, 4800),
                                   n=rng.randint(3, 40), v=rng.randint(1, 90)))
    return texts


def one_off_texts(rng: random.Random, count: int) -> list[str]:
    """The same texts, each tagged with characters no other text has: every template is new."""
    tags = set()
    while len(tags) < count:
        tags.add("".join(rng.choice(TAG_CHARACTERS) for _ in range(6)))
    return [f"{text}（{tag}）" for text, tag in zip(repeated_texts(rng, count), sorted(tags))]


def cpu_per_text(read: Callable[[str], object], texts: list[str], repeat: int) -> float:
    """Best CPU microseconds per text over `repeat` runs, each starting with empty caches."""
    best = float("inf")
    for _ in range(repeat):
        effect_shapes._SHAPES.clear()
        effect_shapes._SEEN_ONCE.clear()
        start = time.process_time()
        for text in texts:
            read(text)
        best = min(best, time.process_time() - start)
    return best / len(texts) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "metrics.json"))
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    repeated, one_off = repeated_texts(rng, args.texts), one_off_texts(rng, args.texts)
    read = metrics._parse_metrics.__wrapped__  # without the per-text lru_cache: every text is read
    figures = {
        "repeated phrasings, shapes (us/text)": cpu_per_text(read, repeated, args.repeat),
        "one-off phrasings, shapes (us/text)": cpu_per_text(read, one_off, args.repeat),
        "repeated phrasings, full reading (us/text)": cpu_per_text(read_in_full, repeated, args.repeat),
        "one-off phrasings, full reading (us/text)": cpu_per_text(read_in_full, one_off, args.repeat),
    }
    print_table(f"活动成效 reading, {args.texts} texts per mix", [(k, f"{v:.1f}") for k, v in figures.items()])
    write_json(Path(args.out), {"texts": args.texts, "seed": args.seed, "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
