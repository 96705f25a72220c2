"""Build ``mmdemo/data/imagenet_hypernyms.tsv``: for each ImageNet-1k class, the WordNet 3.0 lemmas of its synset and of
every hypernym above it, nearest first.

    apt-get download wordnet-base && dpkg-deb -x wordnet-base_*.deb wn
    python -m mmdemo.train.imagenet_hypernyms --wordnet wn/usr/share/wordnet

Inputs: WordNet 3.0's ``data.noun`` (Princeton's WordNet 3.0 licence, see mmdemo/data/CREDITS.md)
and the ILSVRC-2012 synset ids in class-index order, read from timm's ``imagenet_synsets.txt`` (timm is a
requirement; Apache-2.0). ImageNet ids are WordNet 3.0 noun offsets ("n02086079" = offset 02086079).

Output, one line per class in index order: ``synset<TAB>level0<TAB>level1...`` where level k holds the lemmas
(lower case, spaces for underscores, ``|``-separated) of the synsets k hypernym steps above the class (``@`` and
instance ``@i`` pointers; a synset with several hypernyms puts all of them on the next level; each synset is
listed once, at its nearest level). Above the class itself, a lemma is kept only where that synset is the lemma's
most frequent noun sense (first in ``index.noun``): "toy" names the toy-dog synset too, but means a plaything
first, so a label "toy" must not collect the Pekinese; "cat" names "big cat" but means the house cat first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmdemo.data import DATA_DIR

OUT = DATA_DIR / "imagenet_hypernyms.tsv"


def read_nouns(data_noun: Path) -> dict[str, tuple[list[str], list[str]]]:
    """offset -> (lemmas, hypernym offsets) from WordNet's data.noun (format: wndb(5WN))."""
    nouns = {}
    with data_noun.open(encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, w_cnt = fields[0], int(fields[3], 16)
            words = fields[4:4 + 2 * w_cnt:2]
            lemmas = []
            for word in words:
                lemma = word.split("(")[0].replace("_", " ").lower()  # drop adjective markers like "(p)"
                if lemma not in lemmas:
                    lemmas.append(lemma)
            at = 4 + 2 * w_cnt
            p_cnt = int(fields[at])
            pointers = fields[at + 1:at + 1 + 4 * p_cnt]
            hypernyms = [pointers[i + 1] for i in range(0, len(pointers), 4)
                         if pointers[i] in ("@", "@i") and pointers[i + 2] == "n"]
            nouns[offset] = (lemmas, hypernyms)
    return nouns


def first_senses(index_noun: Path) -> dict[str, str]:
    """lemma -> offset of its most frequent noun sense, from WordNet's index.noun (format: wndb(5WN))."""
    first = {}
    with index_noun.open(encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, synset_cnt = fields[0].replace("_", " ").lower(), int(fields[2])
            first[lemma] = fields[-synset_cnt]  # offsets close the line, most frequent sense first
    return first


def chain(nouns, offset: str, first: dict[str, str] | None = None) -> list[list[str]]:
    """Lemmas by hypernym distance, breadth first, each synset once; above level 0, only first-sense lemmas."""
    levels, seen, frontier = [], {offset}, [offset]
    while frontier:
        lemmas = []
        for node in frontier:
            for lemma in nouns[node][0]:
                if levels and first is not None and first.get(lemma) != node:
                    continue
                if lemma not in lemmas:
                    lemmas.append(lemma)
        levels.append(lemmas)
        nxt = []
        for node in frontier:
            for parent in nouns[node][1]:
                if parent not in seen:
                    seen.add(parent)
                    nxt.append(parent)
        frontier = nxt
    return levels


def timm_synsets() -> Path:
    import timm.data

    path = Path(timm.data.__file__).parent / "_info" / "imagenet_synsets.txt"
    if not path.is_file():
        raise SystemExit(f"{path} not found: this timm version does not ship the ILSVRC synset list")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", required=True, type=Path, help="folder holding WordNet 3.0's data.noun")
    parser.add_argument("--synsets", type=Path, default=None, help="ILSVRC synset ids, one a line, class order")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    nouns = read_nouns(args.wordnet / "data.noun")
    first = first_senses(args.wordnet / "index.noun")
    synsets = (args.synsets or timm_synsets()).read_text().split()
    if len(synsets) != 1000 or len(set(synsets)) != 1000:
        raise SystemExit(f"expected 1000 distinct synset ids, got {len(synsets)}")
    lines = []
    for synset in synsets:
        offset = synset.lstrip("n")
        if offset not in nouns:
            raise SystemExit(f"{synset} is not a WordNet 3.0 noun")
        # an empty level (no first-sense lemma there) stays, so that a level's position is its distance
        lines.append("\t".join([synset] + ["|".join(level) for level in chain(nouns, offset, first)]))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(lines)} classes, {args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
